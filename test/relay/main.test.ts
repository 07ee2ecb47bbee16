import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCleengEmulator, CleengEmulator } from '../../emulators/cleeng';
import { call, leaks, post, receipt, spawnRelay, waitFor } from './helpers';

const TOKEN = 'cli-test-publisher-token-e0e0e0';

describe('relay/main.ts (environment-configured CLI)', () => {
    let emu: CleengEmulator;
    before(async () => {
        emu = await startCleengEmulator({ publisherToken: TOKEN, grantDelayMs: 0 });
    });
    after(async () => {
        await emu.close();
    });

    test('exits with code 2 and names the missing variable when CLEENG_PUBLISHER_TOKEN is unset', async () => {
        const p = spawnRelay({});
        assert.equal(await p.exited, 2);
        assert.match(p.out(), /CLEENG_PUBLISHER_TOKEN is required/);
    });

    test('serves with env config, logs JSON lines without secrets, and exits 0 on SIGTERM after in-flight work', async () => {
        const p = spawnRelay({
            CLEENG_PUBLISHER_TOKEN: TOKEN,
            CLEENG_ROKU_PAYMENT_URL: `${emu.url}/roku/payment`,
            CLEENG_JSONRPC_URL: `${emu.url}/3.0/json-rpc`,
            RELAY_PORT: '0',
        });
        try {
            const url = await p.listening();
            assert.deepEqual((await call(url, '/healthz')).json, { ok: true, attestationRequired: false });
            emu.setFault({ kind: 'slow', ms: 300, count: 1, path: '/roku/payment' });
            const r = receipt();
            const inflight = post(url, '/v1/roku/receipts', r);
            assert.ok(await waitFor(() => emu.requests.length === 1));
            p.child.kill('SIGTERM');
            assert.equal((await inflight).status, 200, 'the in-flight receipt finished');
            assert.equal(await p.exited, 0);
            const lines = p.out().trim().split('\n');
            for (const l of lines) {
                JSON.parse(l);
            }
            assert.deepEqual(leaks(lines, [TOKEN, r.customerEmail]), []);
        } finally {
            await p.kill();
        }
    });
});
