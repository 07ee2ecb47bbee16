/**
 * Enhanced Subscription Recovery (Roku Pay requirement 4.5) end to end: the channel in the
 * simulator, through the real relay to the Cleeng fake, with the store emulator answering the
 * ChannelStore generic request {command: "DoRecovery"} with each recoveryStatus Roku documents
 * (1 none in recovery, 2 still in recovery, 3 canceled) and with garbage.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../scripts/lib/local-stack';
import type { SimulatorResult } from '../../scripts/lib/simulator-types';
import { buildE2E, explain, phases, runChannel, screens, startChain } from './support';

let chain: LocalStack;
const apps = new Map<string, Promise<string>>();
function app(scenario: string): Promise<string> {
    let built = apps.get(scenario);
    if (!built) {
        built = buildE2E(scenario, chain.relayUrl);
        apps.set(scenario, built);
    }
    return built;
}

/** The DoRecovery requests the emulated store received, with their recoveryContext. */
function recoveryRequests(result: SimulatorResult): string[] {
    return result.lines.filter((l) => l.startsWith('[StoreEmulator] request DoRecovery')).map((l) => l.replace(/^.*recoveryContext=/, '').trim());
}

function lineWith(result: SimulatorResult, prefix: string): string | undefined {
    return result.lines.find((l) => l.startsWith(prefix));
}

/** Moves to the on-hold screen's Exit (the third action) and presses it. */
const EXIT_ON_HOLD = [
    { key: 'Down', waitMs: 300 },
    { key: 'Down', waitMs: 300 },
    { key: 'Select', waitMs: 300 }
];

describe('end to end: Enhanced Subscription Recovery', { concurrency: false }, () => {
    before(async () => {
        chain = await startChain();
    });
    after(async () => {
        await chain?.close();
    });

    it('on hold: shows Roku renewal dialog (DoRecovery without playback) and names the plan still in recovery (status 2)', async () => {
        const result = await runChannel({
            app: await app('on-hold'),
            launchParams: { store: 'emulator', recovery: '2' },
            keys: [{ when: '[flow] recovery inRecovery status=1', waitMs: 400 }, { screenshot: 'recovery-in-progress' }, ...EXIT_ON_HOLD]
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.deepEqual(recoveryRequests(result), [''], 'one DoRecovery, no "playback" context while on hold');
        assert.ok(phases(result).includes('onHold'));
        assert.ok(!screens(result).includes('access'), 'no access while on hold');
        const message = result.lines.filter((l) => l.startsWith('[flow] message ')).pop() ?? '';
        assert.match(message, /still trying to collect the payment for Monthly/, explain(result));
        assert.ok(lineWith(result, '[flow] action updatePayment'), 'the viewer can open the renewal dialog again');
        assert.ok(lineWith(result, '[flow] action exit'), 'and has a way out');
    });

    it('on hold, payment recovered (status 1): reads the purchases again and opens content', async () => {
        const result = await runChannel({
            app: await app('on-hold'),
            launchParams: { store: 'emulator', recovery: '1' },
            keys: [{ when: '[flow] recovery none status=1' }, { when: '[flow] screen access', waitMs: 400 }, { key: 'Back' }]
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.deepEqual(recoveryRequests(result), ['']);
        assert.deepEqual(screens(result).slice(-1), ['access'], explain(result));
        assert.ok(result.lines.some((l) => l.startsWith('[flow] notice ') && l.includes('payment went through')), explain(result));
        const recovered = result.lines.findIndex((l) => l.startsWith('[flow] recovery none'));
        assert.ok(result.lines.slice(recovered).some((l) => l === '[flow] -> store getAllPurchases'), 'purchases read again after the recovery');
    });

    it('on hold, canceled during recovery (status 3): offers the plans with a notice saying so', async () => {
        const result = await runChannel({
            app: await app('on-hold'),
            launchParams: { store: 'emulator', recovery: '3' },
            keys: [{ when: '[flow] recovery canceled status=1' }, { when: '[flow] screen catalog', waitMs: 400 }, { key: 'Back' }]
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.ok(screens(result).includes('catalog'), explain(result));
        assert.ok(!screens(result).includes('access'));
        assert.ok(result.lines.some((l) => l.startsWith('[flow] notice ') && l.includes('was canceled')), explain(result));
    });

    for (const [label, launch] of [
        ['a garbage recoveryStatus', { recovery: 'banana' }],
        ['an answer without a result', { recovery: 'missing' }],
        ['a failed request (status -1)', { 'status.doRecovery': '-1' }]
    ] as const) {
        it(`on hold, ${label}: never crashes, says the payment screen did not open, and lets the viewer retry or leave`, async () => {
            const result = await runChannel({
                app: await app('on-hold'),
                launchParams: { store: 'emulator', ...launch },
                keys: [
                    { when: /\[flow\] recovery (unknown|failed) status=/, waitMs: 400 },
                    // Update payment method (the first action) asks Roku again.
                    { key: 'Select', waitMs: 300 },
                    { when: /\[flow\] recovery (unknown|failed) status=/, waitMs: 400 },
                    ...EXIT_ON_HOLD
                ]
            });
            assert.equal(result.reason, 'closed', explain(result));
            assert.equal(result.crash, undefined);
            assert.equal(recoveryRequests(result).length, 2, explain(result));
            assert.ok(result.lines.some((l) => l.startsWith('[flow] message ') && l.includes("couldn't open Roku's payment screen")), explain(result));
            assert.ok(!screens(result).includes('access'));
        });
    }

    it('grace period: content stays open and Update payment method asks Roku with recoveryContext playback', async () => {
        const result = await runChannel({
            app: await app('grace-period'),
            launchParams: { store: 'emulator', recovery: '2' },
            keys: [{ when: '[flow] screen access', waitMs: 600 }, { key: 'Select', waitMs: 300 }, { when: '[flow] recovery inRecovery status=1', waitMs: 300 }, { key: 'Back' }]
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.deepEqual(recoveryRequests(result), ['playback']);
        assert.deepEqual(screens(result), ['progress', 'access'], 'the viewer keeps watching in the grace period');
    });
});
