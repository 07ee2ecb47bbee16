/**
 * The sample host channel (examples/paywall-channel), built as its developers would (ropm install
 * of the flow's package, then bsc), in the simulator → the real relay → the Cleeng fake: free items play
 * at once, a premium item goes through the paywall and then plays, deep links at launch go
 * straight to the item.
 */
import assert from 'node:assert/strict';
import * as fs from 'fs';
import { after, before, describe, it } from 'node:test';
import type { CleengEmulator } from '../../emulators/cleeng';
import type { LocalStack } from '../../scripts/lib/local-stack';
import { buildExample } from '../../scripts/build-example';
import type { KeyStep } from '../../scripts/lib/simulator-types';
import { explain, runChannel, startChain } from '../e2e/support';
import { sideloadAndLaunch, startEcpDevice } from './support';

let chain: LocalStack;
let emulator: CleengEmulator;
let app = '';

/** The hidden flow has checked the viewer's purchases (so an item's entitlement is known). */
const CHECKED: KeyStep = { when: '[flow] screen catalog' };
/** The paywall is up and the flow's plan list has the focus (printed by the flow once it moved the focus). */
const PAYWALL_FOCUSED: KeyStep = { when: '[flow] focus catalog', anytime: true };
/** From playback: Back to the grid, then Back to leave. */
const LEAVE_PLAYBACK: KeyStep[] = [{ key: 'Back' }, { when: '[sample] home', key: 'Back' }];

function playing(lines: string[]): string[] {
    return lines.filter((l) => l.startsWith('[sample] playing ')).map((l) => l.slice('[sample] playing '.length).trim());
}

describe('the sample host channel in the simulator', { concurrency: false }, () => {
    before(async () => {
        chain = await startChain();
        emulator = chain.cleeng;
        const result = await buildExample({ target: 'e2e', relayUrl: chain.relayUrl });
        app = result.zipPath;
    });
    after(async () => {
        await chain?.close();
    });

    it('builds for production with zero diagnostics and without the store emulator or fixtures', async () => {
        const result = await buildExample({ target: 'prod', relayUrl: 'https://relay.example.com', skipInstall: true });
        assert.ok(fs.statSync(result.zipPath).size > 0);
        const JSZip = (await import('jszip')).default;
        const zip = await JSZip.loadAsync(fs.readFileSync(result.zipPath));
        const names = Object.keys(zip.files);
        assert.ok(names.some((n) => n.includes('roku_modules/cleengpay/PurchaseFlow/')), names.join(', '));
        assert.ok(!names.some((n) => /StoreEmulator|csfake|TestHooks|\.spec\./i.test(n)), names.join(', '));
    });

    it('plays a free item at once, without the paywall', async () => {
        const result = await runChannel({
            app,
            launchParams: { store: 'emulator' },
            keys: [CHECKED, { key: 'Select' }, { when: '[sample] playing ' }, ...LEAVE_PLAYBACK]
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.deepEqual(playing(result.lines), ['trailer-1']);
        assert.ok(!result.lines.some((l) => l.startsWith('[sample] paywall')), explain(result));
    });

    it('opens the paywall for a premium item, and plays it after the purchase', async () => {
        emulator.reset();
        // The store fixtures reuse one Roku transaction ID: a relay that never saw it.
        await chain.resetRelay();
        const result = await runChannel({
            app,
            launchParams: { store: 'emulator' },
            timeoutMs: 90000,
            keys: [
                CHECKED,
                { key: 'Right' },
                { key: 'Select' },
                { when: '[sample] paywall for film-1' },
                PAYWALL_FOCUSED,
                { key: 'Select' },
                { when: '[sample] playing film-1' },
                // Playback starts on Roku's order (provisional access); Cleeng's confirmation follows.
                { when: /^\[cleeng\] access S123123123_US granted=true/ },
                ...LEAVE_PLAYBACK
            ]
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.ok(result.lines.includes('[sample] open film-1 free=false entitled=false known=true'), explain(result));
        assert.deepEqual(playing(result.lines), ['film-1']);
        assert.equal(emulator.hasAccess('test@example.com', 'S123123123_US'), true);
    });

    it('goes straight to a premium item from a deep link at launch: paywall, purchase, then playback', async () => {
        emulator.reset();
        // The store fixtures reuse one Roku transaction ID: a relay that never saw it.
        await chain.resetRelay();
        const result = await runChannel({
            app,
            launchParams: { store: 'emulator', contentId: 'film-1', mediaType: 'movie' },
            timeoutMs: 90000,
            keys: [{ when: '[sample] paywall for film-1' }, PAYWALL_FOCUSED, { key: 'Select' }, { when: '[sample] playing film-1' }, ...LEAVE_PLAYBACK]
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.ok(result.lines.includes('[sample] deep link film-1 movie'), explain(result));
        assert.deepEqual(playing(result.lines), ['film-1']);
    });

    it('plays a free item from a deep link at launch at once', async () => {
        const result = await runChannel({
            app,
            launchParams: { store: 'emulator', contentId: 'trailer-1', mediaType: 'shortFormVideo' },
            keys: [{ when: '[sample] playing trailer-1' }, ...LEAVE_PLAYBACK]
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.deepEqual(playing(result.lines), ['trailer-1']);
        assert.ok(!result.lines.some((l) => l.startsWith('[sample] paywall')), explain(result));
    });

    it('lands on the home grid for a deep link to an item it does not have', async () => {
        const result = await runChannel({
            app,
            launchParams: { store: 'emulator', contentId: 'no-such-item', mediaType: 'movie' },
            keys: [{ when: '[sample] deep link no-such-item' }, { when: '[sample] home', key: 'Back' }]
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.deepEqual(playing(result.lines), []);
    });

    it('goes to a premium item sent as ECP input while it runs on the fake Roku: paywall, purchase, playback', async () => {
        emulator.reset();
        // The store fixtures reuse one Roku transaction ID: a relay that never saw it.
        await chain.resetRelay();
        const device = await startEcpDevice();
        try {
            const ready = await sideloadAndLaunch(device, app, { store: 'emulator' }, '[flow] screen catalog');
            await device.ecp('input?contentId=film-1&mediaType=movie');
            const paywall = await device.line('[sample] paywall for film-1', ready);
            assert.ok(device.roku.consoleLines.slice(ready, paywall).some((l) => l.includes('[sample] deep link film-1 movie')));
            // The flow was already on its catalog (hidden): once the paywall has the focus, Select buys.
            // A press that lands before the focus moved does nothing, so press until the order starts.
            let ordered = -1;
            for (let attempt = 0; attempt < 5 && ordered < 0; attempt++) {
                await device.ecp('keypress/Select');
                ordered = await device.line('[flow] phase identifying', paywall, 5000).catch(() => -1);
            }
            assert.ok(ordered > paywall, device.roku.consoleLines.slice(paywall).join('\n'));
            const played = await device.line('[sample] playing film-1', paywall).catch((err: Error) => {
                throw new Error(`${err.message}\n${device.roku.consoleLines.slice(paywall).join('\n')}`);
            });
            // Playback starts on Roku's order (provisional access); Cleeng's confirmation follows.
            await device.line('[cleeng] access S123123123_US granted=true', played);
            assert.equal(emulator.hasAccess('test@example.com', 'S123123123_US'), true);
        } finally {
            await device.close();
        }
    });

    it('shows the paywall for a premium item sent as ECP input while it runs on the fake Roku', async () => {
        const device = await startEcpDevice();
        try {
            const ready = await sideloadAndLaunch(device, app, { store: 'emulator' }, '[flow] screen catalog');
            await device.ecp('input?contentId=film-1&mediaType=movie');
            const paywall = await device.line('[sample] paywall for film-1', ready);
            assert.ok(device.roku.consoleLines.slice(ready, paywall).some((l) => l.includes('[sample] open film-1 free=false entitled=false known=true')));
            await device.ecp('input?contentId=trailer-1&mediaType=shortFormVideo');
            await device.line('[sample] playing trailer-1', paywall);
        } finally {
            await device.close();
        }
    });
});
