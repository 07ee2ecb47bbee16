/**
 * Deep links in the reference channel (the manifest declares supports_input_launch=1): launch
 * parameters and ECP input sent to the fake Roku while the channel runs both reach the scene.
 * The sample host channel's deep links are in sample.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../scripts/lib/local-stack';
import { buildE2E, explain, runChannel, startChain } from '../e2e/support';
import { startEcpDevice, sideloadAndLaunch, type EcpDevice } from './support';

describe('deep links in the reference channel', { concurrency: false }, () => {
    let chain: LocalStack;
    let app = '';
    before(async () => {
        chain = await startChain();
        app = await buildE2E('new-viewer', chain.relayUrl);
    });
    after(async () => {
        await chain?.close();
    });

    it('reads contentId and mediaType from the launch parameters', async () => {
        const result = await runChannel({
            app,
            launchParams: { store: 'emulator', contentId: 'episode-7', mediaType: 'episode' },
            keys: [{ when: '[main] deep link contentId=episode-7 mediaType=episode' }, { when: '[flow] screen catalog', key: 'Back' }]
        });
        assert.equal(result.reason, 'closed', explain(result));
    });

    it('takes a deep link sent as ECP input to the fake Roku while the channel runs', async () => {
        const device: EcpDevice = await startEcpDevice();
        try {
            const ready = await sideloadAndLaunch(device, app, { store: 'emulator' }, '[flow] screen catalog');
            assert.ok(!device.roku.consoleLines.slice(ready).some((l) => l.includes('[main] deep link')));
            await device.ecp('input?contentId=film-1&mediaType=movie');
            const index = await device.line('[main] deep link contentId=film-1 mediaType=movie', ready);
            assert.ok(index > ready);
            assert.deepEqual(device.roku.inputs.at(-1), { contentId: 'film-1', mediaType: 'movie' });
        } finally {
            await device.close();
        }
    });
});
