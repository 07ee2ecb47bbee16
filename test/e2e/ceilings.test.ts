/**
 * Progress and response end to end (issue 13 item 8; certification 3.4): a wait shows a spinner,
 * and every wait on the store or the network has a ceiling, so the viewer gets an answer — at
 * worst "still working" with a way on — even when the store or the relay never answers. The
 * store emulator is told to hang (`hang.getPurchases=1`); the Cleeng fake behind the real relay
 * never answers (fault `timeout`) and the channel is built to wait far longer than 10 s for it.
 * The times are printed as figures, never asserted (the suite runs on a busy 2-core machine).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../scripts/lib/local-stack';
import { startDeviceProof, type DeviceProof } from './device-proof';
import { buildE2E, explain, onScreen, phases, runChannel, startChain } from './support';

/** Console lines with the time each arrived. */
function timed(): { lines: { at: number; line: string }[]; onLine: (l: string) => void; at: (pred: (l: string) => boolean) => number } {
    const lines: { at: number; line: string }[] = [];
    return {
        lines,
        onLine: (line) => {
            lines.push({ at: Date.now(), line });
            if (process.env.E2E_VERBOSE) {
                console.log(line);
            }
        },
        at: (pred) => lines.find((l) => pred(l.line))?.at ?? NaN
    };
}

describe('end to end: an answer within 10 s when the store or the relay hangs', { concurrency: false }, () => {
    let chain: LocalStack;
    let proof: DeviceProof;
    before(async () => {
        proof = await startDeviceProof();
        chain = await startChain({
            relay: { attestation: { cert: proof.certPath, channelId: proof.channelId, skewSec: 30, maxAgeSec: 300 }, upstreamTimeoutMs: 60_000, retry: { attempts: 1 } }
        });
    });
    after(async () => {
        chain?.cleeng.setFault(null);
        await chain?.close();
        await proof?.close();
    });

    it('a store that never answers the purchases: spinner, then "still working", then Try again', async () => {
        const t = timed();
        const result = await runChannel({
            app: await buildE2E('new-viewer', chain.relayUrl),
            launchParams: { store: 'emulator', 'hang.getPurchases': '1' },
            onLine: t.onLine,
            keys: [{ when: '[flow] title Still working on it', screenshot: 'still-working' }, { when: '[flow] action retry', waitMs: 300, key: 'Back' }]
        });
        assert.equal(result.reason, 'closed', explain(result));
        const asked = result.lines.indexOf('[flow] -> store getPurchases');
        const spinner = result.lines.indexOf('[flow] spinner on');
        const slow = result.lines.indexOf('[flow] title Still working on it');
        const error = result.lines.indexOf("[flow] title We couldn't reach the Roku Channel Store");
        assert.ok(spinner >= 0 && spinner < slow, 'a spinner while waiting');
        assert.ok(asked >= 0 && slow > asked && error > slow, explain(result));
        assert.ok(result.lines.some((l) => l === '[StoreEmulator] getPurchases hangs'), 'the store really hung');
        const start = t.at((l) => l === '[flow] -> store getPurchases');
        console.log(`# store hang: "still working" after ${t.at((l) => l === '[flow] title Still working on it') - start} ms, Try again after ${t.at((l) => l.startsWith("[flow] title We couldn't reach")) - start} ms`);
    });

    it('a relay that never answers a sign-in check: "still working" with a way back to the plans, which works', async () => {
        chain.cleeng.reset();
        // Every JSON-RPC call (customer token, access status) hangs at "Cleeng".
        chain.cleeng.setFault({ kind: 'timeout', path: '/3.0/json-rpc' });
        const t = timed();
        const result = await runChannel({
            // The channel's own request timeout far above 10 s: only the flow's ceiling can answer in time.
            app: await buildE2E('new-viewer', chain.relayUrl, { CLEENG_TIMEOUT_MS: '60000' }),
            launchParams: { store: 'emulator', email: 'patient.viewer@example.com', attestationUrl: proof.tokenUrl },
            onLine: t.onLine,
            keys: [...onScreen('catalog', ['Right']), { when: '[flow] focus actions', waitMs: 300, key: 'Select' }, { when: '[flow] title Still working on it', waitMs: 400, screenshot: 'signin-still-working', key: 'Select' }, ...onScreen('catalog', ['Back'])],
            timeoutMs: 150000
        });
        chain.cleeng.setFault(null);
        assert.equal(result.reason, 'closed', explain(result));
        const p = phases(result);
        assert.ok(p.includes('signingIn'), p.join(','));
        assert.ok(result.lines.some((l) => l.startsWith('[flow] action backToCatalog')), explain(result));
        assert.equal(p[p.length - 1], 'catalog', p.join(','));
        assert.ok(chain.cleeng.requests.some((r) => r.path === '/3.0/json-rpc'), 'the relay was waiting on Cleeng');
        const start = t.at((l) => l === '[flow] phase signingIn');
        console.log(`# relay hang: "still working" ${t.at((l) => l === '[flow] title Still working on it') - start} ms after the sign-in check started`);
    });
});
