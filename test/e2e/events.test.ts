/**
 * Roku Event Dispatcher events end to end (issue 13 item 2; docs/certification.md): the channel in
 * the simulator through the real relay to the Cleeng fake. A sign-up event fires on each page of
 * the sign-up flow, in order, in the format of Roku's docs ("Sign_Up|pageNumber=N|pageType=…"),
 * then Roku_Authenticated once the viewer has access; a subscriber's launch sends
 * Roku_Authenticated and no sign-up event. The simulator has no roku_analytics component library:
 * the channel prints each event (`[red] <event>`) and says the library is missing instead of
 * crashing; the manifest asks for the library.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import JSZip from 'jszip';
import type { LocalStack } from '../../scripts/lib/local-stack';
import type { SimulatorResult } from '../../scripts/lib/simulator-types';
import { buildE2E, explain, onScreen, runChannel, startChain } from './support';

const SIGN_UP = [
    'Sign_Up|pageNumber=1|pageType=offer_selection',
    'Sign_Up|pageNumber=2|pageType=registration',
    'Sign_Up|pageNumber=2.1|pageType=registration_email_entry',
    'Sign_Up|pageNumber=3|pageType=payment',
    'Sign_Up|pageNumber=4|pageType=sign_up_complete'
];

/** The RED events the channel sent, in order. */
function redEvents(result: SimulatorResult): string[] {
    return result.lines.filter((l) => /^\[red\] (Sign_Up|Roku_)/.test(l)).map((l) => l.slice('[red] '.length).trim());
}

describe('end to end: Roku Event Dispatcher sign-up and authentication events', { concurrency: false }, () => {
    let chain: LocalStack;
    before(async () => {
        chain = await startChain();
    });
    after(async () => {
        await chain?.close();
    });

    it('the manifest asks for the roku_analytics component library', async () => {
        const zip = await JSZip.loadAsync(readFileSync(await buildE2E('new-viewer', chain.relayUrl)));
        const manifest = await zip.file('manifest')!.async('string');
        assert.match(manifest, /^sg_component_libs_required=roku_analytics$/m);
    });

    it('fires a sign-up event on each page of the sign-up flow, in order, then Roku_Authenticated once', async () => {
        await chain.resetRelay();
        chain.cleeng.reset();
        // The viewer declines the RFI screen and types the email: every page of the flow is seen.
        const email = 'me@tv.co';
        const typing = [...email].map((c) => ({ key: `Lit_${encodeURIComponent(c)}`, waitMs: 250 }));
        const result = await runChannel({
            app: await buildE2E('new-viewer', chain.relayUrl),
            launchParams: { store: 'emulator', rfi: 'decline' },
            keys: [...onScreen('catalog', ['Select']), ...onScreen('email'), ...typing, { key: 'Play', waitMs: 400 }, ...onScreen('access', ['Back'])]
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.deepEqual(redEvents(result), [...SIGN_UP, 'Roku_Authenticated'], explain(result));
        assert.ok(result.lines.some((l) => l.startsWith('[red] the roku_analytics library is not available here')), 'guarded where the library is missing');
        assert.ok(!result.lines.some((l) => l.includes(email)), 'the email never reaches the console');
    });

    it('a subscriber launching the channel sends Roku_Authenticated and no sign-up event', async () => {
        const result = await runChannel({ app: await buildE2E('active-subscriber', chain.relayUrl), launchParams: { store: 'emulator' }, keys: onScreen('access', ['Back']) });
        assert.equal(result.reason, 'closed', explain(result));
        assert.deepEqual(redEvents(result), ['Roku_Authenticated'], explain(result));
    });
});
