import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { jwtVerify } from 'jose';
import { startCleengEmulator, CleengEmulator } from '../../emulators/cleeng';
import { startRelay, RelayHandle, RelayConfigInput, ConfigError, loadRelayConfigFromEnv, resolveRelayConfig, CLEENG_DEFAULT_URLS } from '../../relay';
import { backoffDelay, isCleengPaymentSuccess, Slots, Upstream } from '../../relay/upstream';
import { TtlCache } from '../../relay/store';
import { Keys } from '../../relay/attestation';
import { createLogger } from '../../relay/log';
import { toCleengPayment } from '../../relay/cleeng';
import { call, leaks, post, receipt, waitFor } from './helpers';
import { offerIdToRokuProductCode, validateErrorBody, validateHealthAnswer, validateReceiptAccepted, validateReceiptRequest } from '../../contract/generated';

// One file (one ts-node compile) for the relay's contract and its configuration / building blocks.

const TOKEN = 'relay-test-publisher-token-5f1c9a7e';
const SECRET = 'relay-test-secret-0123456789abcdef0123456789';
const keys = new Keys(SECRET, 3600);
/** A check token as the relay issues with an accepted receipt (same secret). */
const checkToken = (email: string, offerId: string) => keys.checkToken(keys.owner(email), offerId);
async function check(url: string, customerEmail: string, offerId: string) {
    return post(url, '/v1/entitlements/check', { customerEmail, offerId, checkToken: await checkToken(customerEmail, offerId) });
}
const logs: string[] = [];
const emailsUsed: string[] = [];

function track<T extends { customerEmail: string }>(r: T): T {
    emailsUsed.push(r.customerEmail);
    return r;
}

describe('relay against the Cleeng emulator', () => {
    let emu: CleengEmulator;
    let relay: RelayHandle;
    const extra: RelayHandle[] = [];

    function config(over: Partial<RelayConfigInput> = {}): RelayConfigInput {
        return {
            publisherToken: TOKEN,
            secret: SECRET,
            cleengRokuPaymentUrl: `${emu.url}/roku/payment`,
            cleengAndroidPaymentUrl: `${emu.url}/android/payment`,
            cleengJsonRpcUrl: `${emu.url}/api/3.0/json-rpc`,
            port: 0,
            upstreamTimeoutMs: 2_000,
            retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
            rateLimit: { perIp: 0, perEmail: 0 },
            logSink: (l) => logs.push(l),
            ...over,
        };
    }
    async function another(over: Partial<RelayConfigInput>): Promise<RelayHandle> {
        const r = await startRelay(config(over));
        extra.push(r);
        return r;
    }
    const payments = () => emu.requests.filter((r) => r.path === '/roku/payment');
    const rpcCalls = (method: string) => emu.requests.filter((r) => r.path === '/api/3.0/json-rpc' && (r.json as { method?: string })?.method === method);

    before(async () => {
        emu = await startCleengEmulator({ publisherToken: TOKEN, grantDelayMs: 50 });
        relay = await startRelay(config());
    });
    after(async () => {
        await Promise.all(extra.map((r) => r.close()));
        await relay.close();
        await emu.close();
    });
    beforeEach(() => emu.reset());

    describe('basics', () => {
        test('GET /healthz answers {ok:true} on 127.0.0.1', async () => {
            assert.match(relay.url, /^http:\/\/127\.0\.0\.1:\d+$/);
            const a = await call(relay.url, '/healthz');
            assert.equal(a.status, 200);
            assert.deepEqual(a.json, { ok: true, attestationRequired: false });
            assert.ok(validateHealthAnswer(a.json).ok);
        });

        test('every answer carries X-Request-Id: a valid incoming one is echoed, otherwise one is generated', async () => {
            const a = await call(relay.url, '/healthz', { headers: { 'X-Request-Id': 'trace-abc-12345' } });
            assert.equal(a.headers['x-request-id'], 'trace-abc-12345');
            const b = await call(relay.url, '/healthz', { headers: { 'X-Request-Id': 'bad id with spaces\t' } });
            assert.match(String(b.headers['x-request-id']), /^[0-9a-f-]{36}$/);
            const c = await call(relay.url, '/nowhere');
            assert.equal(c.status, 404);
            assert.equal(c.json.error.code, 'NOT_FOUND');
            assert.equal(c.json.requestId, c.headers['x-request-id']);
        });

        test('wrong method answers 405 with Allow', async () => {
            const a = await call(relay.url, '/v1/roku/receipts');
            assert.equal(a.status, 405);
            assert.match(String(a.headers.allow), /POST/);
        });

        test('no CORS headers unless RELAY_CORS is set; "*" or an origin list when it is', async () => {
            const none = await call(relay.url, '/healthz', { headers: { Origin: 'http://localhost:8080' } });
            assert.equal(none.headers['access-control-allow-origin'], undefined);
            const any = await another({ cors: '*' });
            const pre = await call(any.url, '/v1/roku/receipts', {
                method: 'OPTIONS',
                headers: { Origin: 'http://localhost:8080', 'Access-Control-Request-Method': 'POST' },
            });
            assert.equal(pre.status, 204);
            assert.equal(pre.headers['access-control-allow-origin'], '*');
            assert.match(String(pre.headers['access-control-allow-headers']), /Content-Type/);
            const listed = await another({ cors: ['http://sim.local:3000'] });
            const ok = await call(listed.url, '/healthz', { headers: { Origin: 'http://sim.local:3000' } });
            assert.equal(ok.headers['access-control-allow-origin'], 'http://sim.local:3000');
            const other = await call(listed.url, '/healthz', { headers: { Origin: 'http://evil.example' } });
            assert.equal(other.headers['access-control-allow-origin'], undefined);
        });
    });

    describe('POST /v1/roku/receipts', () => {
        test('a valid receipt is forwarded once with the publisher token and answers queued', async () => {
            const r = track({ ...receipt(), ipAddress: '203.0.113.9', extraField: 'dropped' });
            const a = await post(relay.url, '/v1/roku/receipts', r);
            assert.equal(a.status, 200);
            assert.equal(typeof a.json.checkToken, 'string');
            assert.ok(validateReceiptAccepted(a.json).ok, 'the answer matches the contract');
            assert.deepEqual(a.json, { status: 'queued', purchaseId: r.order.purchaseId, requestId: a.headers['x-request-id'], checkToken: a.json.checkToken });
            assert.equal(payments().length, 1);
            const sent = payments()[0]!;
            assert.equal(sent.headers['x-publisher-token'], TOKEN);
            assert.match(String(sent.headers['content-type']), /application\/json/);
            assert.deepEqual(sent.json, {
                customerEmail: r.customerEmail,
                offerId: r.offerId,
                order: r.order,
                ipAddress: '203.0.113.9',
            });
        });

        test('the publisher token never reaches the client', async () => {
            const a = await post(relay.url, '/v1/roku/receipts', track(receipt()));
            assert.ok(!a.text.includes(TOKEN));
            assert.ok(!JSON.stringify(a.headers).includes(TOKEN));
        });

        const base = () => receipt();
        type R = ReturnType<typeof receipt> & Record<string, unknown>;
        const badCases: [string, string, (r: R) => unknown][] = [
            ['customerEmail missing', 'customerEmail', (r) => ({ ...r, customerEmail: undefined })],
            ['customerEmail not an email', 'customerEmail', (r) => ({ ...r, customerEmail: 'not-an-email' })],
            ['customerEmail a number', 'customerEmail', (r) => ({ ...r, customerEmail: 5 })],
            ['customerEmail with a control character', 'customerEmail', (r) => ({ ...r, customerEmail: 'vie\u0001wer@example.com' })],
            ['customerEmail with a DEL character', 'customerEmail', (r) => ({ ...r, customerEmail: 'viewer@exa\u007fmple.com' })],
            ['order.purchaseId with a control character', 'order.purchaseId', (r) => ({ ...r, order: { ...r.order, purchaseId: 'tx\u0000-1' } })],
            ['offerId bad format', 'offerId', (r) => ({ ...r, offerId: 'X123_US', order: { ...r.order, code: 'X123-US' } })],
            ['offerId lower case country', 'offerId', (r) => ({ ...r, offerId: 'S123123123_us', order: { ...r.order, code: 'S123123123-us' } })],
            ['order missing', 'order', (r) => ({ ...r, order: undefined })],
            ['order an array', 'order', (r) => ({ ...r, order: [] })],
            ['order.code not offerId with - ', 'order.code', (r) => ({ ...r, order: { ...r.order, code: 'S123123123_US' } })],
            ['order.code another product', 'order.code', (r) => ({ ...r, order: { ...r.order, code: 'S123123124-US' } })],
            ['order.amount a string', 'order.amount', (r) => ({ ...r, order: { ...r.order, amount: '$4.99' } })],
            ['order.amount negative', 'order.amount', (r) => ({ ...r, order: { ...r.order, amount: -1 } })],
            ['order.total missing', 'order.total', (r) => ({ ...r, order: { ...r.order, total: undefined } })],
            ['order.total negative', 'order.total', (r) => ({ ...r, order: { ...r.order, total: -0.5 } })],
            ['order.qty zero', 'order.qty', (r) => ({ ...r, order: { ...r.order, qty: 0 } })],
            ['order.qty fractional', 'order.qty', (r) => ({ ...r, order: { ...r.order, qty: 1.5 } })],
            ['order.qty a string', 'order.qty', (r) => ({ ...r, order: { ...r.order, qty: '1' } })],
            ['order.purchaseId empty', 'order.purchaseId', (r) => ({ ...r, order: { ...r.order, purchaseId: '' } })],
            ['order.purchaseId blank', 'order.purchaseId', (r) => ({ ...r, order: { ...r.order, purchaseId: '   ' } })],
            ['order.purchaseId a number', 'order.purchaseId', (r) => ({ ...r, order: { ...r.order, purchaseId: 12 } })],
            ['ipAddress not an IP', 'ipAddress', (r) => ({ ...r, ipAddress: 'localhost' })],
            ['attestation not an object', 'attestation', (r) => ({ ...r, attestation: 'x' })],
            ['body an array', 'body', () => [1, 2]],
        ];
        for (const [name, field, make] of badCases) {
            test(`400 INVALID_REQUEST and nothing forwarded: ${name}`, async () => {
                const body = make(base() as R);
                const a = await post(relay.url, '/v1/roku/receipts', body);
                assert.equal(a.status, 400);
                assert.equal(a.json.error.code, 'INVALID_REQUEST');
                assert.equal(typeof a.json.error.fields[field], 'string', JSON.stringify(a.json));
                assert.equal(a.json.requestId, a.headers['x-request-id']);
                assert.ok(validateErrorBody(a.json).ok, 'the error matches the contract');
                assert.equal(emu.requests.length, 0, 'nothing forwarded');
            });
        }
        test('non-finite amounts cannot be expressed in JSON: 1e999 is refused', async () => {
            const text = JSON.stringify(receipt()).replace('"amount":4.99', '"amount":1e999');
            const a = await post(relay.url, '/v1/roku/receipts', text, { 'Content-Type': 'application/json' });
            assert.equal(a.status, 400);
            assert.ok(a.json.error.fields['order.amount']);
            assert.equal(emu.requests.length, 0);
        });

        test('400 for a non-JSON content type and for malformed JSON; 413 for a body over the limit', async () => {
            const wrongType = await post(relay.url, '/v1/roku/receipts', JSON.stringify(receipt()), { 'Content-Type': 'text/plain' });
            assert.equal(wrongType.status, 400);
            assert.ok(wrongType.json.error.fields['content-type']);
            const malformed = await post(relay.url, '/v1/roku/receipts', '{"customerEmail":', { 'Content-Type': 'application/json' });
            assert.equal(malformed.status, 400);
            assert.ok(malformed.json.error.fields.body);
            const big = { ...receipt(), padding: 'x'.repeat(17 * 1024) };
            const tooLarge = await post(relay.url, '/v1/roku/receipts', big);
            assert.equal(tooLarge.status, 413);
            assert.equal(tooLarge.json.error.code, 'PAYLOAD_TOO_LARGE');
            assert.equal(emu.requests.length, 0);
        });

        test('Cleeng 5xx is retried, then success', async () => {
            emu.setFault({ kind: 'status', status: 503, count: 2, path: '/roku/payment' });
            const a = await post(relay.url, '/v1/roku/receipts', track(receipt()));
            assert.equal(a.status, 200);
            assert.equal(payments().length, 3);
        });

        test('a Cleeng timeout, a dropped connection and a malformed 200 are each retried', async () => {
            for (const kind of ['timeout', 'drop', 'malformed'] as const) {
                emu.reset();
                emu.setFault({ kind, count: 1, path: '/roku/payment' });
                const a = await post(relay.url, '/v1/roku/receipts', track(receipt()));
                assert.equal(a.status, 200, kind);
                assert.equal(payments().length, 2, kind);
                assert.equal(emu.purchases().length, 1, kind);
            }
        });

        test('exhausted retries answer 503 CLEENG_UNAVAILABLE with Retry-After, after the configured attempts', async () => {
            emu.setFault({ kind: 'status', status: 500, path: '/roku/payment' });
            const a = await post(relay.url, '/v1/roku/receipts', track(receipt()));
            assert.equal(a.status, 503);
            assert.equal(a.json.error.code, 'CLEENG_UNAVAILABLE');
            assert.match(String(a.headers['retry-after']), /^\d+$/);
            assert.equal(payments().length, 3);
        });

        test('Cleeng 400 → 400 CLEENG_INVALID, not retried', async () => {
            emu.setFault({ kind: 'status', status: 400, path: '/roku/payment' });
            const a = await post(relay.url, '/v1/roku/receipts', track(receipt()));
            assert.equal(a.status, 400);
            assert.equal(a.json.error.code, 'CLEENG_INVALID');
            assert.equal(payments().length, 1);
        });

        test('Cleeng 422 (unknown offer) → 422 CLEENG_REJECTED, not retried', async () => {
            const a = await post(relay.url, '/v1/roku/receipts', track(receipt({ offerId: 'S999999999_US' })));
            assert.equal(a.status, 422);
            assert.equal(a.json.error.code, 'CLEENG_REJECTED');
            assert.equal(payments().length, 1);
        });

        test('Cleeng 401 (wrong publisher token) → 502 CLEENG_AUTH, without a word about tokens', async () => {
            const wrong = await another({ publisherToken: 'a-wrong-publisher-token-0000' });
            const a = await post(wrong.url, '/v1/roku/receipts', track(receipt()));
            assert.equal(a.status, 502);
            assert.equal(a.json.error.code, 'CLEENG_AUTH');
            assert.doesNotMatch(a.text, /token/i);
            assert.equal(payments().length, 1);
        });

        test('idempotent: the same purchaseId twice answers 200 twice with one upstream post', async () => {
            const r = track(receipt());
            const a = await post(relay.url, '/v1/roku/receipts', r);
            const b = await post(relay.url, '/v1/roku/receipts', r);
            assert.equal(a.status, 200);
            assert.equal(b.status, 200);
            assert.equal(b.json.purchaseId, r.order.purchaseId);
            assert.notEqual(a.json.requestId, b.json.requestId);
            assert.equal(payments().length, 1);
        });

        test('idempotent under concurrency: 20 simultaneous duplicates make exactly one upstream post', async () => {
            emu.setFault({ kind: 'slow', ms: 100, count: 1, path: '/roku/payment' });
            const r = track(receipt());
            const answers = await Promise.all(Array.from({ length: 20 }, () => post(relay.url, '/v1/roku/receipts', r)));
            assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
            assert.equal(payments().length, 1);
        });

        test('a refused receipt is not remembered: sending it again posts again', async () => {
            emu.setFault({ kind: 'status', status: 500, path: '/roku/payment' });
            const r = track(receipt());
            assert.equal((await post(relay.url, '/v1/roku/receipts', r)).status, 503);
            emu.setFault(null);
            assert.equal((await post(relay.url, '/v1/roku/receipts', r)).status, 200);
            assert.equal(payments().length, 4);
        });

        test('the same transaction for another email is refused with 409 PURCHASE_OWNED and logged for support; nothing is forwarded', async () => {
            const r = track(receipt());
            assert.equal((await post(relay.url, '/v1/roku/receipts', r)).status, 200);
            const taken = track({ ...r, customerEmail: `thief.${r.customerEmail}` });
            const a = await post(relay.url, '/v1/roku/receipts', taken, { 'X-Request-Id': 'support-trace-0001' });
            assert.equal(a.status, 409);
            assert.equal(a.json.error.code, 'PURCHASE_OWNED');
            assert.equal(payments().length, 1);
            assert.equal(emu.purchases()[0]!.customerEmail, r.customerEmail, 'the purchase stays with its first email');
            const line = logs.map((l) => JSON.parse(l)).find((o) => o.msg === 'purchase owned by another customer' && o.requestId === 'support-trace-0001');
            assert.ok(line, 'a support line with the request id');
            assert.match(line.purchaseRef, /^p_/);
            assert.equal(line.conflict, 'owner');
            // The same email in another case is the same owner: answered from the record.
            assert.equal((await post(relay.url, '/v1/roku/receipts', { ...r, customerEmail: r.customerEmail.toUpperCase() })).status, 200);
            assert.equal(payments().length, 1);
        });

        test("a 2xx that is not Cleeng's documented {\"message\":\"OK\"} is retried and never remembered as accepted", async () => {
            emu.setFault({ kind: 'malformed', count: 3, path: '/roku/payment' });
            const r = track(receipt());
            const a = await post(relay.url, '/v1/roku/receipts', r);
            assert.equal(a.status, 503);
            assert.equal(a.json.error.code, 'CLEENG_UNAVAILABLE');
            assert.equal(payments().length, 3);
            assert.equal(isCleengPaymentSuccess(200, '{}'), false);
            assert.equal(isCleengPaymentSuccess(200, '[]'), false);
            assert.equal(isCleengPaymentSuccess(201, '{"message":"OK"}'), false);
            assert.equal(isCleengPaymentSuccess(200, '{"message":"OK"}'), true);
        });
    });

    describe('POST /v1/entitlements/check', () => {
        test('needs proof: no check token → 401 PROOF_REQUIRED; a token for another email or offer is refused; nothing asked of Cleeng', async () => {
            const r = track(receipt());
            const accepted = await post(relay.url, '/v1/roku/receipts', r);
            emu.reset();
            const none = await post(relay.url, '/v1/entitlements/check', { customerEmail: r.customerEmail, offerId: r.offerId });
            assert.equal(none.status, 401);
            assert.equal(none.json.error.code, 'PROOF_REQUIRED');
            const otherEmail = await post(relay.url, '/v1/entitlements/check', { customerEmail: `x.${r.customerEmail}`, offerId: r.offerId, checkToken: accepted.json.checkToken });
            assert.equal(otherEmail.status, 401);
            const otherOffer = await post(relay.url, '/v1/entitlements/check', { customerEmail: r.customerEmail, offerId: 'S123123124_US', checkToken: accepted.json.checkToken });
            assert.equal(otherOffer.status, 401);
            const forged = await post(relay.url, '/v1/entitlements/check', { customerEmail: r.customerEmail, offerId: r.offerId, checkToken: await new Keys('another-secret-another-secret-0000', 60).checkToken(keys.owner(r.customerEmail), r.offerId) });
            assert.equal(forged.status, 401);
            assert.equal(emu.requests.length, 0, 'Cleeng was not asked');
            const ok = await post(relay.url, '/v1/entitlements/check', { customerEmail: r.customerEmail.toUpperCase(), offerId: r.offerId, checkToken: accepted.json.checkToken });
            assert.equal(ok.status, 200, 'the email is compared case-insensitively');
        });

        test('a returning viewer on a new device re-sends the receipt and gets a check token again, without a second post', async () => {
            const r = track(receipt());
            assert.equal((await post(relay.url, '/v1/roku/receipts', r)).status, 200);
            const again = await post(relay.url, '/v1/roku/receipts', r);
            assert.equal(again.status, 200);
            assert.equal(payments().length, 1);
            assert.equal((await post(relay.url, '/v1/entitlements/check', { customerEmail: r.customerEmail, offerId: r.offerId, checkToken: again.json.checkToken })).status, 200);
        });

        test('receipt, then access is granted after the emulator delay', async () => {
            const r = track(receipt());
            const accepted = await post(relay.url, '/v1/roku/receipts', r);
            assert.equal(accepted.status, 200);
            const check = () => post(relay.url, '/v1/entitlements/check', { customerEmail: r.customerEmail, offerId: r.offerId, checkToken: accepted.json.checkToken });
            const first = await check();
            assert.equal(first.status, 200);
            assert.equal(typeof first.json.accessGranted, 'boolean');
            assert.ok(await waitFor(async () => (await check()).json.accessGranted === true));
            const granted = await check();
            assert.equal(typeof granted.json.expiresAt, 'number');
            assert.deepEqual(Object.keys(granted.json).sort(), ['accessGranted', 'expiresAt']);
        });

        test('no access → {accessGranted:false, expiresAt:null}; the customer token is cached', async () => {
            const email = track({ customerEmail: `cache.${process.pid}@example.com` }).customerEmail;
            const a = await check(relay.url, email, 'S123123125_US');
            assert.deepEqual(a.json, { accessGranted: false, expiresAt: null });
            await check(relay.url, email, 'S123123124_US');
            assert.equal(rpcCalls('generateCustomerToken').length, 1);
            assert.equal(rpcCalls('getAccessStatus').length, 2);
            const sent = rpcCalls('generateCustomerToken')[0]!.json as { params: { publisherToken: string } };
            assert.equal(sent.params.publisherToken, TOKEN);
        });

        test('Cleeng error 1 (invalid customer token) drops the cached token and retries once', async () => {
            const email = track({ customerEmail: `expire.${process.pid}@example.com` }).customerEmail;
            emu.grantNow(email, 'S123123123_US');
            assert.equal((await check(relay.url, email, 'S123123123_US')).json.accessGranted, true);
            emu.expireCustomerTokens();
            const a = await check(relay.url, email, 'S123123123_US');
            assert.equal(a.status, 200);
            assert.equal(a.json.accessGranted, true);
            assert.equal(rpcCalls('generateCustomerToken').length, 2);
            assert.equal(rpcCalls('getAccessStatus').length, 3);
        });

        test('unknown offer → 422; invalid body → 400 and nothing forwarded; Cleeng down → 503', async () => {
            const email = track({ customerEmail: `misc.${process.pid}@example.com` }).customerEmail;
            const a = await check(relay.url, email, 'S999999999_US');
            assert.equal(a.status, 422);
            assert.equal(a.json.error.code, 'CLEENG_REJECTED');
            emu.reset();
            const b = await post(relay.url, '/v1/entitlements/check', { customerEmail: 'nope', offerId: 'S123' });
            assert.equal(b.status, 400);
            assert.ok(b.json.error.fields.customerEmail && b.json.error.fields.offerId);
            assert.equal(emu.requests.length, 0);
            emu.setFault({ kind: 'status', status: 502 });
            const c = await check(relay.url, `down.${email}`, 'S123123123_US');
            assert.equal(c.status, 503);
            assert.equal(c.json.error.code, 'CLEENG_UNAVAILABLE');
            assert.ok(c.headers['retry-after']);
        });
    });

    describe('POST /v1/android/receipts', () => {
        test("is forwarded to Cleeng's /android/payment, idempotent by purchaseToken", async () => {
            const body = track({
                customerEmail: `droid.${process.pid}@example.com`,
                offerId: 'S123123124_US',
                receipt: {
                    productId: 's123123124_us',
                    purchaseToken: `ptoken-${process.pid}`,
                    packageName: 'com.example.app',
                    orderId: 'GPA.1234-5678',
                    purchaseState: 0,
                    purchaseTime: 1700000000000,
                    developerPayload: '',
                },
            });
            const a = await post(relay.url, '/v1/android/receipts', body);
            assert.equal(a.status, 200);
            assert.equal((await post(relay.url, '/v1/android/receipts', body)).status, 200);
            const sent = emu.requests.filter((r) => r.path === '/android/payment');
            assert.equal(sent.length, 1);
            assert.deepEqual(sent[0]!.json, body);
            const bad = await post(relay.url, '/v1/android/receipts', { ...body, receipt: { ...body.receipt, productId: 'S123123124_US' } });
            assert.equal(bad.status, 400);
            assert.ok(bad.json.error.fields['receipt.productId']);
        });
    });

    describe('rate limits', () => {
        test('per IP: over the limit answers 429 with Retry-After', async () => {
            const limited = await another({ rateLimit: { perIp: 3, perEmail: 0, windowMs: 60_000 } });
            const statuses: number[] = [];
            for (let i = 0; i < 5; i++) {
                statuses.push((await post(limited.url, '/v1/roku/receipts', track(receipt()))).status);
            }
            assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
            const last = await check(limited.url, 'a@example.com', 'S123123123_US');
            assert.equal(last.status, 429);
            assert.equal(last.json.error.code, 'RATE_LIMITED');
            assert.match(String(last.headers['retry-after']), /^[1-9]\d*$/);
            assert.equal(payments().length, 3);
        });

        test('per email: one email is limited while another still passes', async () => {
            const limited = await another({ rateLimit: { perIp: 0, perEmail: 2, windowMs: 60_000 } });
            const email = track({ customerEmail: `limited.${process.pid}@example.com` }).customerEmail;
            const s: number[] = [];
            for (let i = 0; i < 3; i++) {
                s.push((await post(limited.url, '/v1/roku/receipts', receipt({ email }))).status);
            }
            assert.deepEqual(s, [200, 200, 429]);
            assert.equal((await post(limited.url, '/v1/roku/receipts', track(receipt()))).status, 200);
            const sameEmailOtherCase = await check(limited.url, email.toUpperCase(), 'S123123123_US');
            assert.equal(sameEmailOtherCase.status, 429);
        });

        test('a window resets after it ends', async () => {
            const limited = await another({ rateLimit: { perIp: 1, perEmail: 0, windowMs: 1000 } });
            assert.equal((await post(limited.url, '/v1/roku/receipts', track(receipt()))).status, 200);
            assert.equal((await post(limited.url, '/v1/roku/receipts', track(receipt()))).status, 429);
            assert.ok(await waitFor(async () => (await post(limited.url, '/v1/roku/receipts', track(receipt()))).status === 200, 10_000, 200));
        });

        test('spoofed X-Forwarded-For (D3): the client is the rightmost address not a trusted proxy, so 300 spoofed requests are still limited', async () => {
            const limited = await another({ trustedProxies: ['127.0.0.1/32'], rateLimit: { perIp: 3, perEmail: 0, windowMs: 60_000 } });
            const statuses: number[] = [];
            for (let i = 0; i < 300; i++) {
                const spoof = `${(i * 7) % 223 + 1}.${i % 250}.${(i * 3) % 250}.${i % 200 + 1}`;
                // The attacker writes the first entry; the trusted proxy appends the address it saw.
                statuses.push((await call(limited.url, '/v1/nonce', { method: 'POST', body: {}, headers: { 'X-Forwarded-For': `${spoof}, 198.51.100.7` } })).status);
            }
            assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
            assert.equal(statuses.slice(3).filter((s) => s === 429).length, 297, 'every spoofed request past the limit was refused');
            // Another real client behind the same proxy has its own budget.
            assert.equal((await call(limited.url, '/v1/nonce', { method: 'POST', body: {}, headers: { 'X-Forwarded-For': '198.51.100.8' } })).status, 200);
            // Without RELAY_TRUSTED_PROXIES the header is ignored: the socket address is the client.
            const direct = await another({ rateLimit: { perIp: 2, perEmail: 0, windowMs: 60_000 } });
            const d: number[] = [];
            for (let i = 0; i < 4; i++) {
                d.push((await call(direct.url, '/v1/nonce', { method: 'POST', body: {}, headers: { 'X-Forwarded-For': `10.0.0.${i + 1}` } })).status);
            }
            assert.deepEqual(d, [200, 200, 429, 429]);
        });

        test("per-email budgets are counted per (email, client) (D5): thirty checks from elsewhere do not use up the viewer's budget", async () => {
            const limited = await another({ trustedProxies: ['127.0.0.1'], rateLimit: { perIp: 0, perEmail: 3, windowMs: 60_000 } });
            const victim = track(receipt());
            const attacker: number[] = [];
            for (let i = 0; i < 30; i++) {
                const a = await post(limited.url, '/v1/entitlements/check', { customerEmail: victim.customerEmail, offerId: victim.offerId }, { 'X-Forwarded-For': '198.51.100.66' });
                attacker.push(a.status);
            }
            assert.deepEqual(attacker.slice(0, 3), [401, 401, 401], 'no proof');
            assert.ok(attacker.slice(3).every((s) => s === 429), 'the attacker is limited');
            const own = await post(limited.url, '/v1/roku/receipts', victim, { 'X-Forwarded-For': '203.0.113.10' });
            assert.equal(own.status, 200, "the viewer's own receipt passes");
        });
    });

    describe('graceful shutdown', () => {
        test('close() stops accepting new connections and lets an in-flight receipt finish', async () => {
            const r2 = await startRelay(config());
            emu.setFault({ kind: 'slow', ms: 300, count: 1, path: '/roku/payment' });
            const inflight = post(r2.url, '/v1/roku/receipts', track(receipt()));
            assert.ok(await waitFor(() => payments().length === 1));
            const closed = r2.close();
            // New connections are refused once close() has begun.
            const port = Number(new URL(r2.url).port);
            const refused = await new Promise<boolean>((resolve) => {
                const s = net.connect(port, '127.0.0.1');
                s.on('connect', () => {
                    s.destroy();
                    resolve(false);
                });
                s.on('error', () => resolve(true));
            });
            assert.equal(refused, true);
            const a = await inflight;
            assert.equal(a.status, 200);
            await closed;
        });
    });

    describe('logs', () => {
        test('every log line is one JSON object with a request id, and no secret or email appears', () => {
            assert.ok(logs.length > 50, `captured ${logs.length} lines`);
            for (const line of logs) {
                const o = JSON.parse(line) as Record<string, unknown>;
                assert.equal(typeof o.time, 'string');
                assert.equal(typeof o.msg, 'string');
                if (o.msg === 'request') {
                    assert.equal(typeof o.requestId, 'string');
                    assert.equal(typeof o.status, 'number');
                }
            }
            const retries = logs.map((l) => JSON.parse(l)).filter((o) => o.msg === 'upstream retry' && String(o.op).includes('payment'));
            assert.ok(retries.length > 3);
            for (const o of retries) {
                assert.match(o.purchaseRef, /^p_/, 'every line about a receipt names its purchase');
                assert.equal(typeof o.requestId, 'string');
            }
            assert.ok(emailsUsed.length > 20);
            assert.deepEqual(leaks(logs, [TOKEN, 'a-wrong-publisher-token-0000', ...emailsUsed]), []);
            assert.ok(!logs.some((l) => /@example\.com/.test(l)));
        });
    });
});

describe('configuration from the environment', () => {
    test('CLEENG_PUBLISHER_TOKEN is required', () => {
        assert.throws(() => loadRelayConfigFromEnv({}), (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.includes('CLEENG_PUBLISHER_TOKEN')));
    });

    test('defaults: sandbox URLs, 127.0.0.1:8787, no CORS, no Roku check, no attestation', () => {
        const c = loadRelayConfigFromEnv({ CLEENG_PUBLISHER_TOKEN: 't0ken-value' });
        assert.equal(c.cleengEnv, 'sandbox');
        assert.equal(c.cleengRokuPaymentUrl, CLEENG_DEFAULT_URLS.sandbox.rokuPayment);
        assert.equal(c.cleengJsonRpcUrl, CLEENG_DEFAULT_URLS.sandbox.jsonRpc);
        assert.equal(c.port, 8787);
        assert.equal(c.host, '127.0.0.1');
        assert.deepEqual(c.cors, []);
        assert.equal(c.rokuPartnerApiKey, undefined);
        assert.equal(c.attestation, undefined);
        assert.equal(c.bodyLimitBytes, 16 * 1024);
    });

    test('production picks production URLs; overrides win; every knob is read', () => {
        const c = loadRelayConfigFromEnv({
            CLEENG_PUBLISHER_TOKEN: 't0ken-value',
            CLEENG_ENV: 'production',
            CLEENG_JSONRPC_URL: 'http://127.0.0.1:9/3.0/json-rpc',
            ROKU_PARTNER_API_KEY: 'key',
            ROKU_VALIDATE_URL: 'http://127.0.0.1:10/',
            RELAY_PORT: '0',
            RELAY_HOST: '0.0.0.0',
            RELAY_CORS: 'http://a.test, http://b.test',
            RELAY_TRUSTED_PROXIES: '10.0.0.0/8, 192.0.2.1',
            REDIS_URL: 'redis://127.0.0.1:6379',
            RELAY_SECRET: 's'.repeat(32),
            RELAY_RETRY_ATTEMPTS: '2',
            RELAY_RATE_LIMIT_IP: '7',
            RELAY_RATE_LIMIT_EMAIL: '3',
            RELAY_RATE_WINDOW_MS: '1000',
            ROKU_ATTESTATION_CERT: '-----BEGIN PUBLIC KEY-----\n...',
            ROKU_CHANNEL_ID: '12345',
            ROKU_ATTESTATION_SKEW_S: '10',
        });
        assert.equal(c.cleengRokuPaymentUrl, CLEENG_DEFAULT_URLS.production.rokuPayment);
        assert.equal(c.cleengJsonRpcUrl, 'http://127.0.0.1:9/3.0/json-rpc');
        assert.equal(c.rokuValidateUrl, 'http://127.0.0.1:10');
        assert.equal(c.port, 0);
        assert.equal(c.host, '0.0.0.0');
        assert.deepEqual(c.cors, ['http://a.test', 'http://b.test']);
        assert.deepEqual(c.trustedProxies, ['10.0.0.0/8', '192.0.2.1']);
        assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
        assert.equal(c.retry.attempts, 2);
        assert.deepEqual(c.rateLimit, { perIp: 7, perEmail: 3, windowMs: 1000 });
        assert.equal(c.attestation?.channelId, '12345');
        assert.equal(c.attestation?.skewSec, 10);
        assert.equal(c.attestation?.channelClaim, 'channelId');
        assert.equal(loadRelayConfigFromEnv({ CLEENG_PUBLISHER_TOKEN: 'x'.repeat(9), RELAY_CORS: '*' }).cors, '*');
    });

    test('bad values are refused with every problem listed', () => {
        assert.throws(
            () => loadRelayConfigFromEnv({ CLEENG_PUBLISHER_TOKEN: 'abc', CLEENG_ENV: 'staging', RELAY_PORT: 'eighty', CLEENG_ROKU_PAYMENT_URL: 'ftp://x' }),
            (e: unknown) => e instanceof ConfigError && e.problems.length >= 2,
        );
    });
});

describe('building blocks', () => {
    test('production without REDIS_URL is refused unless single-instance mode is asked for; RELAY_SECRET is required there', () => {
        const prod = { CLEENG_PUBLISHER_TOKEN: 't0ken-value', CLEENG_ENV: 'production', RELAY_SECRET: 'k'.repeat(32) };
        assert.throws(() => loadRelayConfigFromEnv(prod), (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.includes('REDIS_URL')));
        assert.equal(loadRelayConfigFromEnv({ ...prod, RELAY_SINGLE_INSTANCE: 'true' }).singleInstance, true);
        assert.equal(loadRelayConfigFromEnv({ ...prod, REDIS_URL: 'redis://10.0.0.5:6379' }).redisUrl, 'redis://10.0.0.5:6379');
        assert.throws(
            () => loadRelayConfigFromEnv({ ...prod, REDIS_URL: 'redis://10.0.0.5:6379', RELAY_SECRET: '' }),
            (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.includes('RELAY_SECRET')),
        );
        assert.throws(() => loadRelayConfigFromEnv({ CLEENG_PUBLISHER_TOKEN: 't0ken-value', RELAY_TRUSTED_PROXIES: '10.0.0.0/33' }), ConfigError);
        assert.throws(() => loadRelayConfigFromEnv({ CLEENG_PUBLISHER_TOKEN: 't0ken-value', RELAY_TRUST_PROXY: 'true' }), ConfigError);
        assert.equal(loadRelayConfigFromEnv({ CLEENG_PUBLISHER_TOKEN: 't0ken-value' }).idempotency.ttlMs, 30 * 24 * 3600_000, 'kept 30 days');
    });

    test('the TTL cache evicts the oldest entry and drops expired ones, each in O(1)', () => {
        const m = new TtlCache<number>(3);
        for (let i = 0; i < 10; i++) {
            m.set(`k${i}`, i, 100, 0);
        }
        assert.equal(m.size, 3);
        assert.equal(m.get('k9', 50), 9);
        assert.equal(m.get('k9', 100), undefined, 'expired');
        assert.equal(m.get('k0', 0), undefined, 'evicted');
        // 100k keys: inserting stays flat (a scan per insert would take seconds here).
        const big = new TtlCache<number>(100_000);
        for (let i = 0; i < 300_000; i++) {
            big.set(`k${i}`, i, 1e9, i);
        }
        assert.equal(big.size, 100_000);
    });

    test('backoff grows exponentially and is capped', () => {
        const p = { attempts: 5, baseDelayMs: 100, maxDelayMs: 300 };
        assert.equal(backoffDelay(p, 1, () => 1), 100);
        assert.equal(backoffDelay(p, 2, () => 1), 200);
        assert.equal(backoffDelay(p, 3, () => 1), 300);
        assert.equal(backoffDelay(p, 9, () => 1), 300);
        assert.equal(backoffDelay(p, 1, () => 0), 50);
    });

    test('upstream slots: a full pool makes callers wait up to the bound, then refuses', async () => {
        const slots = new Slots(1);
        assert.equal(await slots.acquire(0), true);
        assert.equal(await slots.acquire(0), false, 'full, no wait');
        const waiting = slots.acquire(10_000);
        slots.release();
        assert.equal(await waiting, true, 'handed over on release');
        assert.equal(await slots.acquire(20), false, 'timed out');
        slots.release();
        assert.equal(slots.available, 1);
    });

    test('an answer that arrived within the attempt timeout is taken, even when the process was too busy to read it before the timer expired', async () => {
        let posts = 0;
        const server = http.createServer((req, res) => {
            req.resume();
            req.on('end', () => {
                posts++;
                res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"message":"OK"}');
                // The answer is on its way; now this process is busy for twice the attempt timeout.
                const until = Date.now() + 400;
                while (Date.now() < until) {
                    // busy
                }
            });
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/roku/payment`;
        const ac = new AbortController();
        const upstream = new Upstream(resolveRelayConfig({ publisherToken: TOKEN, upstreamTimeoutMs: 200, retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 } }), ac.signal);
        const warnings: string[] = [];
        const log = { info: () => {}, warn: (_f: Record<string, unknown>, msg: string) => warnings.push(msg) };
        try {
            const outcome = await upstream.postPayment(url, toCleengPayment(receipt()), 'req-busy-0001', 'cleeng.roku-payment', log, async () => {});
            assert.deepEqual(outcome, { kind: 'accepted' });
            assert.equal(posts, 1, 'posted once, not again after a timeout');
            assert.deepEqual(warnings, []);
        } finally {
            await upstream.close();
            server.closeAllConnections();
            await new Promise<void>((r) => server.close(() => r()));
        }
    });

    test('check tokens: a compact HS256 JWT (typ relay-check+jwt) that jose verifies; expired, tampered or other-secret tokens are refused', async () => {
        const owner = keys.owner('viewer@example.com');
        const token = await keys.checkToken(owner, 'S123123123_US');
        const raw = createHmac('sha256', SECRET).update('relay-check-token-v1').digest();
        const { payload, protectedHeader } = await jwtVerify(token, raw, { algorithms: ['HS256'], typ: 'relay-check+jwt' });
        assert.deepEqual(protectedHeader, { alg: 'HS256', typ: 'relay-check+jwt' });
        assert.equal(payload.o, 'S123123123_US');
        assert.equal(payload.own, owner);
        assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 3600);
        assert.equal(await keys.verifyCheckToken(token, owner, 'S123123123_US'), true);
        assert.equal(await keys.verifyCheckToken(token, owner, 'S123123124_US'), false, 'another offer');
        assert.equal(await keys.verifyCheckToken(token, keys.owner('other@example.com'), 'S123123123_US'), false, 'another owner');
        const old = await keys.checkToken(owner, 'S123123123_US', Date.now() - 7200_000);
        assert.equal(await keys.verifyCheckToken(old, owner, 'S123123123_US'), false, 'expired');
        const [h, p, sig] = token.split('.');
        const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, o: 'S123123124_US' })).toString('base64url')}.${sig}`;
        assert.equal(await keys.verifyCheckToken(tampered, owner, 'S123123124_US'), false, 'tampered');
        assert.equal(await keys.verifyCheckToken(`${h}.${p}.${sig}x`, owner, 'S123123123_US'), false, 'bad signature');
        assert.equal(await new Keys('another-secret-another-secret-0000', 3600).verifyCheckToken(token, owner, 'S123123123_US'), false, 'other secret');
    });

    test('pino redacts email, token and key fields and scrubs configured secrets and email-shaped text', () => {
        const lines: string[] = [];
        const log = createLogger((l) => lines.push(l), ['super-secret-token']);
        log.info({ note: 'super-secret-token for viewer@example.com', customerEmail: 'a@b.example', body: { customerEmail: 'c@d.example', token: 'jwt.jwt.jwt' }, checkToken: 'ct-1234' }, 'x');
        const o = JSON.parse(lines[0]!);
        assert.equal(o.level, 'info');
        assert.equal(o.customerEmail, '[redacted]');
        assert.equal(o.body.customerEmail, '[redacted]');
        assert.equal(o.body.token, '[redacted]');
        assert.equal(o.checkToken, '[redacted]');
        assert.ok(!lines[0]!.includes('super-secret-token'));
        assert.ok(!lines[0]!.includes('viewer@example.com'));
    });

    test('offer → Roku product code, and the forwarded body keeps only known fields', () => {
        assert.equal(offerIdToRokuProductCode('S123123123_US'), 'S123123123-US');
        const v = validateReceiptRequest({
            customerEmail: 'v@example.com',
            offerId: 'P123456789_GB',
            order: { amount: 0, code: 'P123456789-GB', purchaseId: 'tx', qty: 2, total: 0, junk: 1 },
            attestation: { token: 'a.b.c', nonce: 'n' },
            junk: true,
        });
        assert.ok(v.ok);
        assert.deepEqual(toCleengPayment(v.value), {
            customerEmail: 'v@example.com',
            offerId: 'P123456789_GB',
            order: { amount: 0, code: 'P123456789-GB', purchaseId: 'tx', qty: 2, total: 0 },
        });
    });
});
