/**
 * Each error class of the relay, end to end: channel (simulator) → the real relay → the Cleeng
 * fake (and, for the Roku check, a fake of Roku Pay's validate-transaction). Every answer is
 * produced by configuring the fake or the relay, never by stubbing the relay; each test checks
 * what the relay answered, what the viewer read, and that the charged purchase was kept.
 * The class each answer must get comes from contract/relay/errors.json (final / retry / configuration).
 * 503 + Retry-After (retried, kept, sent on the next launch) and 422 are in purchase.test.ts.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startRokuPayFake, type RokuPayFake } from '../../emulators/roku-pay';
import type { LocalStack, RelayOverrides } from '../../scripts/lib/local-stack';
import type { SimulatorResult } from '../../scripts/lib/simulator-types';
import { buildE2E, E2E_CONCURRENCY, explain, onScreen, phases, receiptLines, runChannel, startChain } from './support';

const BUY_FIRST_PLAN = onScreen('catalog', ['Select']);
/**
 * A paid order opens content at once (provisional access); the receipt carries on in the
 * background. The run waits until the flow has acted on the receipt's settled outcome (kept for
 * later, refused for good, or a configuration problem: `[flow] <- cleeng receipt …`, printed once
 * the screen and its notice are up to date), then leaves with Back.
 */
const UNTIL_SETTLED = [...BUY_FIRST_PLAN, { when: /^\[flow\] <- cleeng receipt \S+ (deferred|rejected|unauthorized|owned)/, key: 'Back' }];

/** The `[flow] notice` lines (what the viewer read under the content). */
function notices(result: SimulatorResult): string[] {
    return result.lines.filter((l) => l.startsWith('[flow] notice ')).map((l) => l.slice('[flow] notice '.length));
}

let rokuPay: RokuPayFake;

/** The relay's answers to the channel's receipts: [status, error code]. */
function relayAnswers(chain: LocalStack): [number, string | undefined][] {
    return chain
        .relayRequests()
        .filter((e) => e.method === 'POST' && e.path === '/v1/roku/receipts')
        .map((e) => [e.status as number, e.code as string | undefined]);
}

/**
 * One test's own chain (the relay configured as the test needs, in front of its own Cleeng fake)
 * and the new-viewer channel built for it; stopped when the test ends, so tests run side by side.
 */
async function stack(t: TestContext, relay: RelayOverrides = {}): Promise<{ chain: LocalStack; newViewer: string }> {
    const chain = await startChain({ relay });
    t.after(() => chain.close());
    return { chain, newViewer: await buildE2E('new-viewer', chain.relayUrl) };
}

/** The purchase records left in the channel's outbox, by purchase ID. */
function kept(result: SimulatorResult): Record<string, { state?: string }> {
    const out: Record<string, { state?: string }> = {};
    for (const [k, v] of Object.entries(result.registry.cleeng_outbox ?? {})) {
        if (k.startsWith('r.')) {
            out[k.slice(2)] = JSON.parse(v) as { state?: string };
        }
    }
    return out;
}

function purchaseIdOf(result: SimulatorResult): string {
    const first = receiptLines(result)[0];
    assert.ok(first, `a receipt was attempted:\n${explain(result)}`);
    return first.purchaseId;
}

/** Common to every failure: nothing reached Cleeng's books, the record is kept, the viewer is never told they were not charged. */
function assertKeptAndHonest(chain: LocalStack, result: SimulatorResult): string {
    assert.equal(result.reason, 'closed', explain(result));
    const id = purchaseIdOf(result);
    assert.ok(kept(result)[id], `the charged purchase ${id} is kept on the device: ${JSON.stringify(result.registry.cleeng_outbox)}`);
    assert.equal(chain.cleeng.purchases().length, 0);
    assert.ok(!result.lines.some((l) => /not been charged/i.test(l)), explain(result));
    return id;
}

describe('end to end: every relay error class reaches the viewer as it should', { concurrency: E2E_CONCURRENCY }, () => {
    before(async () => {
        rokuPay = await startRokuPayFake({ apiKey: 'e2e-roku-partner-api-key' });
    });
    after(async () => {
        await rokuPay?.close();
    });

    it('502 CLEENG_AUTH (the relay holds a token Cleeng refuses): configuration message with the purchase ID, purchase kept', async (t) => {
        const { chain, newViewer } = await stack(t, { publisherToken: 'a-token-cleeng-does-not-know' });
        const result = await runChannel({ app: newViewer, launchParams: { store: 'emulator' }, keys: UNTIL_SETTLED, timeoutMs: 120000 });
        const id = assertKeptAndHonest(chain, result);
        // Sent once in the run: a configuration error is due again only after its keep time (or at
        // the next launch), whichever of the launch flush and the order's submit came first.
        assert.deepEqual(relayAnswers(chain), [[502, 'CLEENG_AUTH']]);
        assert.equal(chain.cleeng.requests.filter((r) => r.path === '/roku/payment').length, 1, 'nobody retried in a loop');
        assert.deepEqual(
            receiptLines(result).map((r) => [r.outcome, r.http]),
            receiptLines(result).map(() => ['unauthorized', 502])
        );
        assert.ok(receiptLines(result).length >= 1);
        assert.ok(phases(result).includes('access'), `the viewer paid, so content opens: ${phases(result).join(',')}`);
        assert.ok(
            notices(result).some((m) => /not set up correctly/i.test(m) && m.includes(id)),
            `the viewer reads that the service is misconfigured, with the purchase ID:\n${notices(result).join('\n')}`
        );
    });

    it('429 RATE_LIMITED (with Retry-After): retried, then kept for later; content stays open with nothing for the viewer to do', async (t) => {
        const { chain, newViewer } = await stack(t, { rateLimit: { windowMs: 600_000, perIp: 1, perEmail: 100_000 } });
        // Use up this address's one request of the window, so the channel's requests are over the limit.
        const first = await fetch(`${chain.relayUrl}/v1/nonce`, { method: 'POST' });
        assert.equal(first.status, 200);
        const over = await fetch(`${chain.relayUrl}/v1/nonce`, { method: 'POST' });
        assert.equal(over.status, 429);
        assert.ok(Number(over.headers.get('retry-after')) > 0, 'the relay says when to come back');

        const result = await runChannel({ app: newViewer, launchParams: { store: 'emulator' }, keys: UNTIL_SETTLED, timeoutMs: 120000 });
        const id = assertKeptAndHonest(chain, result);
        assert.ok(relayAnswers(chain).length >= 2 && relayAnswers(chain).every(([s, c]) => s === 429 && c === 'RATE_LIMITED'), JSON.stringify(relayAnswers(chain)));
        const outcomes = receiptLines(result).map((r) => [r.outcome, r.http]);
        assert.deepEqual(outcomes[outcomes.length - 1], ['deferred', 429], JSON.stringify(outcomes));
        assert.ok(outcomes.slice(0, -1).length >= 1 && outcomes.slice(0, -1).every(([o, h]) => o === 'retrying' && h === 429), JSON.stringify(outcomes));
        assert.equal(chain.cleeng.requests.filter((r) => r.path === '/roku/payment').length, 0, 'refused before Cleeng');
        assert.ok(phases(result).includes('access') && !phases(result).includes('error'), phases(result).join(','));
        assert.deepEqual(notices(result), [], 'a retryable answer needs nothing from the viewer');
        assert.notEqual(kept(result)[id]?.state, 'rejected', 'a retryable answer never makes the record final');
    });

    // contract/relay/errors.json classes 403 TRANSACTION_NOT_VERIFIED as retry: Roku may not know a fresh transaction yet.
    it(
        '403 TRANSACTION_NOT_VERIFIED (Roku Pay does not know the transaction): kept and retried, never final',
        async (t) => {
            const { chain, newViewer } = await stack(t, { rokuPartnerApiKey: 'e2e-roku-partner-api-key', rokuValidateUrl: rokuPay.url });
            const result = await runChannel({ app: newViewer, launchParams: { store: 'emulator' }, keys: UNTIL_SETTLED, timeoutMs: 120000 });
            const id = assertKeptAndHonest(chain, result);
            assert.ok(rokuPay.asked.includes(id), `the relay asked Roku Pay about ${id}: ${JSON.stringify(rokuPay.asked)}`);
            assert.ok(relayAnswers(chain).length >= 1 && relayAnswers(chain).every(([s, c]) => s === 403 && c === 'TRANSACTION_NOT_VERIFIED'), JSON.stringify(relayAnswers(chain)));
            assert.equal(chain.cleeng.requests.filter((r) => r.path === '/roku/payment').length, 0, 'nothing unverified is forwarded to Cleeng');
            const outcomes = receiptLines(result).map((r) => r.outcome);
            assert.ok(!outcomes.includes('rejected'), `never final: ${outcomes.join(',')}`);
            assert.equal(outcomes[outcomes.length - 1], 'deferred', outcomes.join(','));
            assert.notEqual(kept(result)[id]?.state, 'rejected');
            assert.ok(phases(result).includes('access') && !phases(result).includes('error'), phases(result).join(','));
        }
    );

    // contract/relay/errors.json classes ATTESTATION_REQUIRED / ATTESTATION_INVALID as retry with a fresh proof.
    // With no device token to give, the channel follows the retry backoff (never a tight loop).
    it(
        '401 ATTESTATION_REQUIRED (the relay requires a device proof this device cannot give): kept and retried with backoff, never final',
        async (t) => {
            const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
            const { chain, newViewer } = await stack(t, { attestation: { cert: publicKey.export({ type: 'spki', format: 'pem' }).toString() } });
            const result = await runChannel({ app: newViewer, launchParams: { store: 'emulator' }, keys: UNTIL_SETTLED, timeoutMs: 120000 });
            const id = assertKeptAndHonest(chain, result);
            assert.ok(
                relayAnswers(chain).length >= 1 && relayAnswers(chain).every(([s, c]) => s === 401 && (c === 'ATTESTATION_REQUIRED' || c === 'ATTESTATION_INVALID')),
                JSON.stringify(relayAnswers(chain))
            );
            assert.equal(chain.cleeng.requests.filter((r) => r.path === '/roku/payment').length, 0, 'nothing reached Cleeng');
            // Bounded: cleeng.FOREGROUND_ATTEMPTS (4) backoff rounds, each at most cleeng.MAX_PROOF_TRIES (2)
            // sends (one quick fresh-proof retry), then the record is deferred, not re-sent in a loop.
            assert.ok(relayAnswers(chain).length <= 8, `${relayAnswers(chain).length} sends`);
            const outcomes = receiptLines(result).map((r) => r.outcome);
            assert.ok(!outcomes.includes('rejected') && !outcomes.includes('unauthorized'), `a retry class: ${outcomes.join(',')}`);
            assert.equal(outcomes[outcomes.length - 1], 'deferred', outcomes.join(','));
            assert.notEqual(kept(result)[id]?.state, 'rejected');
            assert.ok(phases(result).includes('access') && !phases(result).includes('error'), phases(result).join(','));
        }
    );

    it('400 CLEENG_INVALID (Cleeng refuses the parameters): final, support message with the purchase ID, record kept', async (t) => {
        const { chain, newViewer } = await stack(t);
        chain.cleeng.setFault({ kind: 'status', status: 400, path: '/roku/payment' });
        const result = await runChannel({ app: newViewer, launchParams: { store: 'emulator' }, keys: UNTIL_SETTLED, timeoutMs: 120000 });
        const id = assertKeptAndHonest(chain, result);
        // Sent once in the run: a final answer is retried only on the slow (daily) schedule.
        assert.deepEqual(relayAnswers(chain), [[400, 'CLEENG_INVALID']]);
        assert.equal(chain.cleeng.requests.filter((r) => r.path === '/roku/payment').length, 1, 'a final answer is not retried in a loop');
        assert.deepEqual(
            receiptLines(result).map((r) => [r.outcome, r.http]),
            receiptLines(result).map(() => ['rejected', 400])
        );
        assert.ok(receiptLines(result).length >= 1);
        assert.ok(
            notices(result).some((m) => /contact support/i.test(m) && m.includes(id)),
            `the viewer is told to contact support with the purchase ID:\n${notices(result).join('\n')}`
        );
    });
});
