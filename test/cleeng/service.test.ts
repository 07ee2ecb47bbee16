/**
 * CleengService end to end: a test-only harness channel (test/cleeng/harness/) running in the
 * simulator (brs-engine in headless Chromium, so CORS applies). Relay mode runs channel → the
 * real relay (in this process) → the Cleeng fake; direct mode (sandbox test builds) talks to the
 * Cleeng fake itself. Everything listens on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { DEFAULT_EMULATOR_PUBLISHER_TOKEN, MAX_GRANT_DELAY_MS, type CleengEmulator, type RecordedRequest } from '../../emulators/cleeng';
import { startLocalStack } from '../../scripts/lib/local-stack';
import { E2E_CONCURRENCY } from '../e2e/support';
import { buildHarness, directConfig, purchaseRecord, relayConfig, type Harness, type HarnessRun, type RunOptions } from './harness';

const OFFER = 'S123123123_US';


// Each test runs on a chain of its own (stack()): the tests run side by side, the harness is built once.
describe('CleengService in the simulator, through the real relay to the Cleeng fake', { concurrency: E2E_CONCURRENCY }, () => {
    let harness: Harness;

    before(async () => {
        // The service gets each test's relay (or fake) from the `config` launch parameter; the
        // packaged pkg:/config/channel.json points nowhere a test listens.
        harness = await buildHarness({ CHANNEL_ENV: 'local', CLEENG_MODE: 'relay', RELAY_URL: 'http://127.0.0.1:9', CLEENG_TIMEOUT_MS: '4000' });
    });
    after(() => {
        harness?.remove();
    });

    /** One test's chain: the Cleeng fake and the real relay on fresh ports, stopped when the test ends. */
    async function stack(t: TestContext) {
        const chain = await startLocalStack({ cleeng: { grantDelayMs: 1500 } });
        t.after(() => chain.close());
        const emu: CleengEmulator = chain.cleeng;
        return {
            chain,
            emu,
            /** Runs the harness against this test's relay (or, with `direct`, straight at its Cleeng fake). */
            harnessRun: (opts: Pick<RunOptions, 'steps' | 'registry' | 'timeoutMs'> & { direct?: boolean }) =>
                harness.run({ ...opts, config: opts.direct ? directConfig(emu.url, DEFAULT_EMULATOR_PUBLISHER_TOKEN) : relayConfig(chain.relayUrl) }),
            /** Requests that reached Cleeng (the fake). */
            on: (path: string): RecordedRequest[] => emu.requests.filter((r) => r.path === path),
            /** The relay's answers to the channel on a route, in order (status, code, start time). */
            relayed: (path: string) =>
                chain
                    .relayRequests()
                    .filter((e) => e.method === 'POST' && e.path === path)
                    .map((e) => ({ status: e.status as number, code: e.code as string | undefined, startedAt: Date.parse(String(e.time ?? e.ts)) - Number(e.ms ?? 0) })),
            /** Resolves once Cleeng (the fake) has answered its first getAccessStatus. */
            firstAccessStatus: async (): Promise<void> => {
                for (let n = 1; ; n++) {
                    const rpc = await emu.waitForRequests('/3.0/json-rpc', n, 120_000);
                    if (rpc.some((r) => (r.json as { method?: string } | undefined)?.method === 'getAccessStatus')) {
                        return;
                    }
                }
            }
        };
    }

    const receipts = (r: HarnessRun, purchaseId: string) => r.events.filter((e) => e.type === 'receipt' && e.purchaseId === purchaseId);
    const outcomes = (r: HarnessRun, purchaseId: string) => receipts(r, purchaseId).map((e) => e.outcome);
    const explain = (r: HarnessRun) => `${r.result.message}\n${r.result.lines.filter((l) => !l.startsWith('[beacon')).join('\n')}`;
    // The ledger's compact encoding (docs/cleeng.md): a JSON array in a fixed order, version 2 first.
    const FIELDS = ['version', 'customerEmail', 'offerId', 'code', 'purchaseId', 'qty', 'amount', 'total', 'catalogCost', 'ipAddress', 'createdAt', 'state', 'attempts', 'nextAttemptAt', 'lastError'];
    const stored = (r: HarnessRun, purchaseId: string): Record<string, unknown> | undefined => {
        const text = r.result.registry.cleeng_outbox?.[`r.${purchaseId}`];
        if (text === undefined) {
            return undefined;
        }
        const value = JSON.parse(text) as unknown[];
        assert.ok(Array.isArray(value) && value[0] === 2, text);
        return Object.fromEntries(FIELDS.map((name, i) => [name, value[i]]));
    };
    const acked = (r: HarnessRun): string[] => JSON.parse(r.result.registry.cleeng_outbox?.acked ?? '[]') as string[];

    it('posts exactly the documented receipt (prices as numbers, text escaped) and reports access once granted', async (t) => {
        const { emu, harnessRun, on, relayed, firstAccessStatus } = await stack(t);
        // The contract's email rule refuses quotes and backslashes, so the purchase ID carries them.
        const email = "zoë.o'brien@example.com";
        const rec = purchaseRecord({ customerEmail: email, purchaseId: `tx-"q"\\${Date.now()}`, amount: 'R$ 9,90', total: 'R$ 10,89', ipAddress: '203.0.113.9' });
        // Cleeng grants only once the channel has asked once and heard "no" (the longest delay the
        // fake allows stands in for "not yet"), so the channel must poll again to see the grant.
        emu.setGrantDelay(MAX_GRANT_DELAY_MS);
        const granted = firstAccessStatus().then(() => emu.grantNow(email, OFFER));
        const run = await harnessRun({
            steps: [
                { type: 'submit', record: rec },
                { await: { type: 'receipt', outcome: 'accepted' } },
                { type: 'checkAccess', customerEmail: email, offerId: OFFER, poll: true },
                { await: { type: 'access', final: true } }
            ]
        });
        assert.ok(run.done, explain(run));
        await granted;
        // The relay accepted the channel's body (valid JSON despite the quotes, backslash and ë:
        // brs-engine's FormatJson does not escape them, the channel does) and Cleeng got it intact.
        assert.deepEqual(
            relayed('/v1/roku/receipts').map((r) => r.status),
            [200]
        );
        const posted = on('/roku/payment');
        assert.equal(posted.length, 1);
        assert.deepEqual(JSON.parse(posted[0]!.body), {
            customerEmail: email,
            offerId: OFFER,
            order: { amount: 9.9, code: 'S123123123-US', purchaseId: rec.purchaseId, qty: 1, total: 10.89 },
            ipAddress: '203.0.113.9'
        });

        const receipt = receipts(run, rec.purchaseId as string);
        assert.deepEqual(
            receipt.map((e) => [e.outcome, e.httpCode]),
            [['accepted', 200]]
        );
        assert.equal(typeof receipt[0]!.message, 'string');

        const access = run.events.filter((e) => e.type === 'access');
        const final = access[access.length - 1]!;
        assert.equal(final.accessGranted, true);
        assert.equal(final.final, true);
        assert.equal(final.offerId, OFFER);
        assert.ok((final.attempts as number) >= 2, `the grant comes after the first check: at least one poll saw no access first (${String(final.attempts)})`);
        assert.ok(access.slice(0, -1).every((e) => e.accessGranted === false && e.final === false));
        assert.equal(relayed('/v1/entitlements/check').length, final.attempts);
        assert.ok(on('/3.0/json-rpc').some((r) => (r.json as { method: string }).method === 'getAccessStatus'), 'the relay asked Cleeng');

        assert.deepEqual(acked(run), [rec.purchaseId]);
        const outbox = run.result.registry.cleeng_outbox ?? {};
        assert.deepEqual(Object.keys(outbox).filter((k) => k.startsWith('r.')), [], 'the record is gone once Cleeng said 200');
        assert.ok(outbox[`k.${OFFER}`], `the relay's check token is kept for later checks: ${Object.keys(outbox).join(',')}`);
        const grant = JSON.parse(run.result.registry.cleeng_access?.[`g.${OFFER}`] ?? '{}') as Record<string, unknown>;
        assert.equal(grant.offerId, OFFER);
        assert.ok((grant.expiresAt as number) > Date.now() / 1000);
        const everything = run.result.lines.join('\n') + JSON.stringify(run.result.registry.cleeng_access);
        assert.ok(!everything.includes('brien') && !everything.includes('zo\\u00eb'), 'the email is never printed nor cached');
    });

    it('retries relay 503s (Cleeng answered 500) with backoff, keeping the record, then sends it', async (t) => {
        const { emu, harnessRun, on, relayed } = await stack(t);
        // The relay tries Cleeng twice per request: 4 failures are two 503 CLEENG_UNAVAILABLE answers.
        emu.setFault({ kind: 'status', status: 500, path: '/roku/payment', count: 4 });
        const rec = purchaseRecord();
        const run = await harnessRun({ steps: [{ type: 'submit', record: rec }, { await: { type: 'receipt', outcome: 'accepted' } }] });
        assert.ok(run.done, explain(run));
        assert.deepEqual(outcomes(run, rec.purchaseId as string), ['retrying', 'retrying', 'accepted']);
        assert.deepEqual(
            receipts(run, rec.purchaseId as string).map((e) => e.httpCode),
            [503, 503, 200]
        );
        assert.deepEqual(
            relayed('/v1/roku/receipts').map((r) => [r.status, r.code]),
            [
                [503, 'CLEENG_UNAVAILABLE'],
                [503, 'CLEENG_UNAVAILABLE'],
                [200, undefined]
            ]
        );
        const posted = on('/roku/payment');
        assert.equal(posted.length, 5);
        // posted[1] ends the relay's first request, posted[2] starts its second: the gap is the channel's backoff.
        const gaps = [posted[2]!.at - posted[1]!.at, posted[4]!.at - posted[3]!.at];
        assert.ok(gaps[0]! >= 1900, `first backoff ${gaps[0]} ms`);
        assert.ok(gaps[1]! >= 3900, `second backoff ${gaps[1]} ms`);
        assert.deepEqual(acked(run), [rec.purchaseId]);
    });

    // brs-engine runs roUrlTransfer as a synchronous XHR with no timeout, so a server that never
    // answers cannot be tested here (the -28 path is covered by the Rooibos suites). A 200 whose
    // body is not JSON (a captive portal, a proxy) is what this checks instead. The relay never
    // answers so (it retries Cleeng itself), so this runs in direct mode, against the fake.
    it('direct mode: does not take an unreadable 200 for an acceptance: it retries', async (t) => {
        const { emu, harnessRun, on } = await stack(t);
        emu.setFault({ kind: 'malformed', path: '/roku/payment', count: 1 });
        const rec = purchaseRecord();
        const run = await harnessRun({ direct: true, steps: [{ type: 'submit', record: rec }, { await: { type: 'receipt', outcome: 'accepted' } }] });
        assert.ok(run.done, explain(run));
        assert.deepEqual(
            receipts(run, rec.purchaseId as string).map((e) => [e.outcome, e.httpCode]),
            [
                ['retrying', 200],
                ['accepted', 200]
            ]
        );
        assert.equal(on('/roku/payment').length, 2);
        assert.deepEqual(acked(run), [rec.purchaseId]);
    });

    it('keeps a record after the foreground attempts, and the next launch sends it by flush at once', async (t) => {
        const { chain, emu, harnessRun, on, relayed } = await stack(t);
        emu.setFault({ kind: 'status', status: 503, path: '/roku/payment', count: 100 });
        const rec = purchaseRecord();
        const first = await harnessRun({ steps: [{ type: 'submit', record: rec }, { await: { type: 'receipt', outcome: 'deferred' } }] });
        assert.ok(first.done, explain(first));
        assert.deepEqual(outcomes(first, rec.purchaseId as string), ['retrying', 'retrying', 'retrying', 'deferred']);
        assert.match(String(receipts(first, rec.purchaseId as string)[3]!.message), /saved and will be sent automatically/);
        assert.deepEqual(
            relayed('/v1/roku/receipts').map((r) => [r.status, r.code]),
            Array(4).fill([503, 'CLEENG_UNAVAILABLE']),
            'a bounded number of foreground attempts'
        );
        const kept = stored(first, rec.purchaseId as string);
        assert.ok(kept, 'the record stays in the registry');
        assert.equal(kept.state, 'pending');
        assert.equal(kept.attempts, 4);
        assert.equal(kept.lastError, 'HTTP 503 CLEENG_UNAVAILABLE');
        assert.ok((kept.nextAttemptAt as number) > Date.now() / 1000, 'due again later, not at once');

        emu.reset();
        chain.relayLog.length = 0;
        const relaunch = await harnessRun({
            registry: first.result.registry,
            steps: [{ type: 'flush' }, { await: { type: 'receipt', purchaseId: rec.purchaseId, outcome: 'accepted' } }]
        });
        assert.ok(relaunch.done, explain(relaunch));
        assert.equal(relayed('/v1/roku/receipts').length, 1, 'a launch sends a kept record at once, whatever its backoff');
        assert.equal(on('/roku/payment').length, 1);
        assert.equal(stored(relaunch, rec.purchaseId as string), undefined);

        // The same, with a record already due and another left by a launch that died before posting.
        const left = purchaseRecord({ amount: '1,99 €', total: '2,39 €', createdAt: 1700000000 });
        const registry = {
            cleeng_outbox: {
                ...first.result.registry.cleeng_outbox,
                [`r.${rec.purchaseId}`]: JSON.stringify({ ...kept, nextAttemptAt: Math.floor(Date.now() / 1000) - 1 }),
                [`r.${left.purchaseId}`]: JSON.stringify(left)
            }
        };
        // Cleeng keeps what it got; the relay, which already delivered `rec`, answers it from its
        // idempotency record without posting it again.
        chain.relayLog.length = 0;
        const cleengBefore = on('/roku/payment').length;
        const next = await harnessRun({
            registry,
            steps: [
                { type: 'flush' },
                { await: { type: 'receipt', purchaseId: left.purchaseId, outcome: 'accepted' } },
                { await: { type: 'receipt', purchaseId: rec.purchaseId, outcome: 'accepted' } }
            ]
        });
        assert.ok(next.done, explain(next));
        assert.deepEqual(
            relayed('/v1/roku/receipts').map((r) => r.status),
            [200, 200],
            'the channel sent both'
        );
        const bodies = on('/roku/payment')
            .slice(cleengBefore)
            .map((r) => r.json as { order: { purchaseId: string; amount: number; total: number } });
        assert.deepEqual(
            bodies.map((b) => b.order.purchaseId),
            [left.purchaseId],
            'delivered once: the relay does not post an accepted purchase to Cleeng again'
        );
        assert.deepEqual(emu.purchases().map((p) => p.purchaseId).sort(), [rec.purchaseId, left.purchaseId].sort());
        const leftBody = bodies.find((b) => b.order.purchaseId === left.purchaseId)!;
        assert.deepEqual([leftBody.order.amount, leftBody.order.total], [1.99, 2.39]);
        assert.deepEqual(acked(next).sort(), [rec.purchaseId, left.purchaseId].sort());
        assert.equal(stored(next, rec.purchaseId as string), undefined);
        assert.equal(stored(next, left.purchaseId as string), undefined);
    });

    it('reports relay 502 CLEENG_AUTH as unauthorized and 422 CLEENG_REJECTED as rejected (support message), keeping both records; a "free" price is delivered as 0 (price never blocks delivery)', async (t) => {
        const { emu, harnessRun, on, relayed } = await stack(t);
        // Cleeng answers 401 once (as for a wrong publisher token): the relay says 502 CLEENG_AUTH.
        emu.setFault({ kind: 'status', status: 401, path: '/roku/payment', count: 1 });
        const unauthorized = purchaseRecord();
        const unknownOffer = purchaseRecord({ offerId: 'S999999999_US', code: 'S999999999-US' });
        const free = purchaseRecord({ amount: 'free' });
        const run = await harnessRun({
            steps: [
                { type: 'submit', record: unauthorized },
                { await: { type: 'receipt', purchaseId: unauthorized.purchaseId } },
                { type: 'submit', record: unknownOffer },
                { await: { type: 'receipt', purchaseId: unknownOffer.purchaseId } },
                { type: 'submit', record: free },
                { await: { type: 'receipt', purchaseId: free.purchaseId } },
                { sleepMs: 500 }
            ]
        });
        assert.ok(run.done, explain(run));
        const a = receipts(run, unauthorized.purchaseId as string);
        assert.deepEqual(
            a.map((e) => [e.outcome, e.httpCode]),
            [['unauthorized', 502]]
        );
        const b = receipts(run, unknownOffer.purchaseId as string);
        assert.deepEqual(
            b.map((e) => [e.outcome, e.httpCode]),
            [['rejected', 422]]
        );
        assert.match(String(b[0]!.message), /contact support/i);
        assert.ok(String(b[0]!.message).includes(String(unknownOffer.purchaseId)), String(b[0]!.message));
        assert.ok(!/not been charged/i.test(String(b[0]!.message)), 'a charged viewer is never told they were not charged');
        const c = receipts(run, free.purchaseId as string);
        assert.deepEqual(
            c.map((e) => [e.outcome, e.httpCode]),
            [['accepted', 200]]
        );
        assert.deepEqual(
            relayed('/v1/roku/receipts').map((r) => [r.status, r.code]),
            [
                [502, 'CLEENG_AUTH'],
                [422, 'CLEENG_REJECTED'],
                [200, undefined]
            ],
            'no retry loop for the final answers'
        );

        assert.equal(stored(run, unauthorized.purchaseId as string)?.state, 'unauthorized');
        assert.match(String(stored(run, unauthorized.purchaseId as string)?.lastError), /^HTTP 502/);
        assert.equal(stored(run, unknownOffer.purchaseId as string)?.state, 'rejected');
        assert.match(String(stored(run, unknownOffer.purchaseId as string)?.lastError), /^HTTP 422/);
        assert.equal(stored(run, free.purchaseId as string), undefined, 'the delivered purchase leaves the device');
        const freeBody = on('/roku/payment').map((r) => JSON.parse(r.body) as { order: { purchaseId: string; amount: number } }).find((b) => b.order.purchaseId === free.purchaseId);
        assert.equal(freeBody?.order.amount, 0, 'a "free" price is sent as 0');
        assert.deepEqual(acked(run), [free.purchaseId]);
    });

    it('direct mode: POST /roku/payment with X-Publisher-Token, then JSON-RPC generateCustomerToken + getAccessStatus', async (t) => {
        const { harnessRun, on } = await stack(t);
        const rec = purchaseRecord({ amount: '1.299,00 kr', total: '1.299,00 kr' });
        const run = await harnessRun({
            direct: true,
            steps: [
                { type: 'submit', record: rec },
                { await: { type: 'receipt', outcome: 'accepted' } },
                { type: 'checkAccess', customerEmail: rec.customerEmail, offerId: OFFER, poll: true },
                { await: { type: 'access', final: true } }
            ]
        });
        assert.ok(run.done, explain(run));
        const paid = on('/roku/payment');
        assert.equal(paid.length, 1);
        assert.equal(paid[0]!.headers['x-publisher-token'], DEFAULT_EMULATOR_PUBLISHER_TOKEN);
        assert.deepEqual(paid[0]!.json, {
            customerEmail: rec.customerEmail,
            offerId: OFFER,
            order: { amount: 1299, code: 'S123123123-US', purchaseId: rec.purchaseId, qty: 1, total: 1299 }
        });
        const rpc = on('/3.0/json-rpc').map((r) => (r.json as { method: string }).method);
        assert.equal(rpc[0], 'generateCustomerToken');
        assert.ok(rpc.slice(1).every((m) => m === 'getAccessStatus') && rpc.length >= 2, rpc.join(','));
        assert.equal(rpc.filter((m) => m === 'generateCustomerToken').length, 1, 'the customer token is reused between polls');
        const final = run.events.filter((e) => e.type === 'access').pop()!;
        assert.equal(final.accessGranted, true);
        assert.ok(!run.result.lines.join('\n').includes(DEFAULT_EMULATOR_PUBLISHER_TOKEN), 'the token is never printed');
    });

    it('reconcile sends a valid purchase Cleeng never acknowledged and skips acknowledged and invalid ones', async (t) => {
        const { harnessRun, on } = await stack(t);
        const purchase = (purchaseId: string, status: string, cost: string) => ({
            code: 'S123123124-US',
            offerId: '',
            name: 'Monthly',
            purchaseId,
            purchaseDate: '2024-05-01T10:00:00',
            expirationDate: '',
            renewalDate: '',
            status,
            inDunning: false,
            freeTrialQuantity: 0,
            freeTrialType: 'None',
            productType: 'MonthlySub',
            qty: 1,
            cost,
            purchaseChannel: 'DEVICE',
            purchaseContext: 'IAP'
        });
        const run = await harnessRun({
            registry: { cleeng_outbox: { acked: JSON.stringify(['tx-old']) } },
            steps: [
                { type: 'reconcile', customerEmail: 'viewer@example.com', purchases: [purchase('tx-old', 'Valid', '$4.99'), purchase('tx-missed', 'Valid', '1,99 €'), purchase('tx-gone', 'Invalid', '$4.99')] },
                { await: { type: 'receipt', purchaseId: 'tx-missed', outcome: 'accepted' } },
                { sleepMs: 500 }
            ]
        });
        assert.ok(run.done, explain(run));
        const posted = on('/roku/payment');
        assert.equal(posted.length, 1);
        assert.deepEqual(posted[0]!.json, {
            customerEmail: 'viewer@example.com',
            offerId: 'S123123124_US',
            order: { amount: 1.99, code: 'S123123124-US', purchaseId: 'tx-missed', qty: 1, total: 1.99 }
        });
        assert.deepEqual(acked(run), ['tx-old', 'tx-missed']);
    });

    it('opens at once from the access cache, then confirms with Cleeng; forgets the grant when Cleeng says no', async (t) => {
        const { chain, emu, harnessRun, relayed } = await stack(t);
        const email = 'viewer@example.com';
        // A grant is cached on a device where a purchase was accepted, and that acceptance left
        // the relay's check token in the ledger: the proof the channel sends with the check.
        const bought = await harnessRun({ steps: [{ type: 'submit', record: purchaseRecord({ customerEmail: email }) }, { await: { type: 'receipt', outcome: 'accepted' } }] });
        assert.ok(bought.done, explain(bought));
        chain.relayLog.length = 0;
        const now = Math.floor(Date.now() / 1000);
        const cache = {
            cleeng_outbox: bought.result.registry.cleeng_outbox ?? {},
            cleeng_access: {
                [`g.${OFFER}`]: JSON.stringify({ offerId: OFFER, expiresAt: now + 3600, checkedAt: now - 60, customer: createHash('sha256').update(email).digest('hex') })
            }
        };
        emu.grantNow(email, OFFER);
        const yes = await harnessRun({
            registry: cache,
            steps: [{ type: 'checkAccess', customerEmail: email, offerId: OFFER, poll: false }, { await: { type: 'access', final: true } }]
        });
        assert.ok(yes.done, explain(yes));
        const a = yes.events.filter((e) => e.type === 'access');
        assert.deepEqual(
            a.map((e) => [e.accessGranted, e.final, e.cached]),
            [
                [true, false, true],
                [true, true, false]
            ]
        );
        assert.deepEqual(
            relayed('/v1/entitlements/check').map((r) => r.status),
            [200]
        );

        emu.reset();
        const no = await harnessRun({
            registry: cache,
            steps: [{ type: 'checkAccess', customerEmail: email, offerId: OFFER, poll: false }, { await: { type: 'access', final: true } }]
        });
        assert.ok(no.done, explain(no));
        const b = no.events.filter((e) => e.type === 'access');
        assert.deepEqual(
            b.map((e) => [e.accessGranted, e.final, e.cached]),
            [
                [true, false, true],
                [false, true, false]
            ]
        );
        assert.equal(no.result.registry.cleeng_access?.[`g.${OFFER}`], undefined, 'the cached grant is dropped');

        // Cleeng unreachable: the cached grant stands.
        emu.setFault({ kind: 'status', status: 503, count: 10 });
        const offline = await harnessRun({
            registry: cache,
            steps: [{ type: 'checkAccess', customerEmail: email, offerId: OFFER, poll: false }, { await: { type: 'access', final: true } }]
        });
        assert.ok(offline.done, explain(offline));
        const c = offline.events.filter((e) => e.type === 'access').pop()!;
        assert.deepEqual([c.accessGranted, c.final, c.cached], [true, true, true]);
    });

    it('cancelPoll stops the entitlement polls', async (t) => {
        const { harnessRun, relayed } = await stack(t);
        const run = await harnessRun({
            steps: [
                { type: 'checkAccess', customerEmail: 'nobody@example.com', offerId: OFFER, poll: true },
                // The first check of the backed-off schedule (4 s in) answers; the next would come 6 s later.
                { await: { type: 'access', final: false } },
                { type: 'cancelPoll' },
                // Proving that nothing more happens needs a window longer than the next poll's delay.
                { sleepMs: 8000 }
            ]
        });
        assert.ok(run.done, explain(run));
        const polls = relayed('/v1/entitlements/check');
        assert.ok(polls.length >= 1, 'it polled before the cancel');
        const cancelledAt = run.lineTimes.find((l) => l.line === '[harness] command cancelPoll')?.at;
        assert.ok(cancelledAt, explain(run));
        const late = polls.filter((p) => p.startedAt > cancelledAt);
        assert.deepEqual(late, [], 'no poll starts after the cancel');
    });
});
