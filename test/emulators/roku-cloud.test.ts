/** The fake of a Roku account's channel data (emulators/roku-cloud): per account, text in, text out. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_CHANNEL_DATA_BYTES, startRokuCloudFake, type RokuCloudFake } from '../../emulators/roku-cloud';

describe('Roku cloud fake: channel data per Roku account', () => {
    let cloud: RokuCloudFake;
    before(async () => {
        cloud = await startRokuCloudFake();
    });
    after(async () => {
        await cloud.close();
    });

    it('answers 204 before anything is stored, then what the last store kept, per account', async () => {
        const a = `${cloud.accountUrl('a')}/channel-cred`;
        assert.equal((await fetch(a)).status, 204);
        assert.equal((await fetch(a, { method: 'POST', body: 'first' })).status, 200);
        const stored = await fetch(a, { method: 'POST', body: '{"quoted":"\\"x\\""}' });
        assert.deepEqual(await stored.json(), { status: 'success', error: 'none' });
        const got = await fetch(a);
        assert.equal(got.status, 200);
        assert.equal(await got.text(), '{"quoted":"\\"x\\""}');
        assert.equal(got.headers.get('access-control-allow-origin'), '*');
        assert.equal((await fetch(`${cloud.accountUrl('b')}/channel-cred`)).status, 204, 'another Roku account sees nothing');
        assert.deepEqual(cloud.calls.map((c) => [c.method, c.account, c.status]), [['GET', 'a', 204], ['POST', 'a', 200], ['POST', 'a', 200], ['GET', 'a', 200], ['GET', 'b', 204]]);
    });

    it('refuses data over its size limit and unknown routes', async () => {
        const big = await fetch(`${cloud.accountUrl('c')}/channel-cred`, { method: 'POST', body: 'x'.repeat(MAX_CHANNEL_DATA_BYTES + 1) });
        assert.equal(big.status, 413);
        assert.equal(cloud.channelData('c'), undefined);
        assert.equal((await fetch(`${cloud.url}/other`)).status, 404);
    });
});
