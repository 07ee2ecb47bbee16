import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { startCleengEmulator, CleengEmulator, parseGrantDelay, cleengSchemas, CLEENG_CONTRACT_DIR, RPC_ERRORS } from '../../emulators/cleeng';
import { call, post, receipt, waitFor } from '../relay/helpers';
import { goldenReceiptRequest } from '../../contract/generated';

const example = (name: string): unknown => JSON.parse(fs.readFileSync(path.join(CLEENG_CONTRACT_DIR, 'examples', name), 'utf8'));

const TOKEN = 'emu-test-publisher-token-1234';
const auth = { 'X-Publisher-Token': TOKEN };

describe('Cleeng emulator', () => {
    let emu: CleengEmulator;

    before(async () => {
        emu = await startCleengEmulator({ publisherToken: TOKEN, grantDelayMs: { min: 300, max: 400 } });
    });
    after(async () => {
        await emu.close();
    });
    beforeEach(() => emu.reset());

    async function rpc(method: string, params: Record<string, unknown>, at = '/3.0/json-rpc') {
        return post(emu.url, at, { method, params, jsonrpc: '2.0', id: 7 });
    }

    async function accessFor(email: string, offerId: string): Promise<{ accessGranted: boolean; expiresAt: number | null }> {
        const tok = await rpc('generateCustomerToken', { publisherToken: TOKEN, customerEmail: email });
        const st = await rpc('getAccessStatus', { customerToken: tok.json.result.token, offerId });
        return st.json.result;
    }

    test('listens on 127.0.0.1 with a random port', () => {
        assert.match(emu.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.ok(emu.port > 0);
    });

    test('the contract examples are valid against the contract schemas', () => {
        const cases: [keyof typeof cleengSchemas, string][] = [
            ['paymentOk', 'roku-payment.200.json'],
            ['restError', 'roku-payment.400.json'],
            ['restError', 'roku-payment.401.json'],
            ['restError', 'roku-payment.422.json'],
            ['restError', 'roku-payment.500.json'],
            ['androidPayment', 'android-payment.request.json'],
            ['rpcRequest', 'generate-customer-token.request.json'],
            ['rpcResponse', 'generate-customer-token.response.json'],
            ['rpcResponse', 'generate-customer-token.error-3.json'],
            ['rpcRequest', 'get-access-status.request.json'],
            ['rpcResponse', 'get-access-status.response.json'],
            ['rpcResponse', 'get-access-status.error-1.json'],
        ];
        for (const [schema, file] of cases) {
            const v = cleengSchemas[schema];
            assert.ok(v(example(file)), `${file}: ${JSON.stringify(v.errors)}`);
        }
        // The golden receipt (contract/examples/relay/receipt-request.json) is also the body Cleeng gets.
        assert.ok(cleengSchemas.rokuPayment(goldenReceiptRequest()), JSON.stringify(cleengSchemas.rokuPayment.errors));
        const params = (file: string) => (example(file) as { params: unknown }).params;
        assert.ok(cleengSchemas.generateCustomerTokenParams(params('generate-customer-token.request.json')));
        assert.ok(cleengSchemas.getAccessStatusParams(params('get-access-status.request.json')));
        assert.ok(cleengSchemas.getAccessStatusResult((example('get-access-status.response.json') as { result: unknown }).result));
        assert.equal(RPC_ERRORS.getAccessStatus['4'], 'Offer not found');
        // The schemas refuse what they should (not everything passes).
        assert.equal(cleengSchemas.rokuPayment({ ...goldenReceiptRequest(), customerEmail: 'not an email' }), false);
        assert.equal(cleengSchemas.paymentOk({ message: 'queued' }), false);
    });

    test('the golden receipt is accepted with 200 {"message":"OK"}, and access is granted only after the delay', async () => {
        const own = await startCleengEmulator({ publisherToken: TOKEN, grantDelayMs: 3000 });
        try {
            const r = goldenReceiptRequest();
            const a = await post(own.url, '/roku/payment', r, auth);
            assert.equal(a.status, 200);
            assert.deepEqual(a.json, { message: 'OK' });
            assert.ok(cleengSchemas.paymentOk(a.json));
            assert.equal(own.hasAccess(r.customerEmail, r.offerId), false, 'queued, not granted yet');
            assert.equal(own.purchases().length, 1);
            assert.ok(await waitFor(() => own.hasAccess(r.customerEmail, r.offerId), 20_000), 'granted after the delay');
        } finally {
            await own.close();
        }
    });

    test('access shows in getAccessStatus once granted', async () => {
        const r = receipt();
        const a = await post(emu.url, '/roku/payment', r, auth);
        assert.equal(a.status, 200);
        assert.ok(await waitFor(async () => (await accessFor(r.customerEmail, r.offerId)).accessGranted, 10_000), 'granted after the delay');
        const s = await accessFor(r.customerEmail, r.offerId);
        assert.equal(typeof s.expiresAt, 'number');
        assert.ok(s.expiresAt! > Date.now() / 1000);
    });

    test('records requests with method, path, headers, body, json and time', async () => {
        const r = receipt();
        await post(emu.url, '/roku/payment', r, auth);
        assert.equal(emu.requests.length, 1);
        const rec = emu.requests[0]!;
        assert.equal(rec.method, 'POST');
        assert.equal(rec.path, '/roku/payment');
        assert.equal(rec.headers['x-publisher-token'], TOKEN);
        assert.deepEqual(rec.json, r);
        assert.equal(JSON.parse(rec.body).order.purchaseId, r.order.purchaseId);
        assert.equal(typeof rec.at, 'number');
    });

    test('401 with a Cleeng-shaped error for a missing or wrong publisher token', async () => {
        for (const headers of [{}, { 'X-Publisher-Token': 'wrong-token-value' }] as Record<string, string>[]) {
            const a = await post(emu.url, '/roku/payment', receipt(), headers);
            assert.equal(a.status, 401);
            assert.ok(cleengSchemas.restError(a.json), JSON.stringify(a.json));
            assert.equal(a.json.code, 401);
            assert.equal(typeof a.json.message, 'string');
        }
        assert.equal(emu.purchases().length, 0);
    });

    test('400 for malformed JSON, missing fields and wrong types', async () => {
        const cases: unknown[] = [
            '{"customerEmail": ',
            { offerId: 'S123123123_US', order: receipt().order },
            { ...receipt(), order: undefined },
            { ...receipt(), order: { ...receipt().order, amount: '4.99' } },
            { ...receipt(), order: { ...receipt().order, qty: '1' } },
            { ...receipt(), order: { ...receipt().order, purchaseId: 42 } },
            { ...receipt(), customerEmail: 12 },
            { ...receipt(), customerEmail: 'no-at-sign' },
        ];
        for (const body of cases) {
            const a = await post(emu.url, '/roku/payment', body, { ...auth, 'Content-Type': 'application/json' });
            assert.equal(a.status, 400, JSON.stringify(body));
            assert.equal(a.json.code, 400);
            assert.ok(cleengSchemas.restError(a.json));
        }
        assert.equal(emu.purchases().length, 0);
    });

    test('422 for an offer it does not know and for a product code that does not match the offer', async () => {
        const unknown = receipt({ offerId: 'S999999999_US' });
        assert.equal((await post(emu.url, '/roku/payment', unknown, auth)).status, 422);
        const mismatch = receipt();
        mismatch.order.code = 'S123123124-US';
        const a = await post(emu.url, '/roku/payment', mismatch, auth);
        assert.equal(a.status, 422);
        assert.equal(a.json.code, 422);
        assert.equal(emu.purchases().length, 0);
    });

    test('idempotent by purchaseId: the same receipt twice is one purchase', async () => {
        const r = receipt();
        assert.equal((await post(emu.url, '/roku/payment', r, auth)).status, 200);
        assert.equal((await post(emu.url, '/roku/payment', r, auth)).status, 200);
        assert.equal(emu.purchases().length, 1);
    });

    test('the same transaction for another email moves the access to that email', async () => {
        const r = receipt();
        await post(emu.url, '/roku/payment', r, auth);
        emu.grantNow(r.customerEmail, r.offerId);
        const moved = { ...r, customerEmail: `other.${r.customerEmail}` };
        await post(emu.url, '/roku/payment', moved, auth);
        assert.equal(emu.hasAccess(r.customerEmail, r.offerId), false);
        assert.ok(await waitFor(() => emu.hasAccess(moved.customerEmail, r.offerId)));
        assert.equal(emu.purchases().length, 1);
        assert.equal(emu.purchases()[0]!.customerEmail, moved.customerEmail);
    });

    test('grant delay option: fixed, range, and the 30 s cap', () => {
        assert.deepEqual(parseGrantDelay(undefined), { min: 2000, max: 4000 });
        assert.deepEqual(parseGrantDelay(50), { min: 50, max: 50 });
        assert.throws(() => parseGrantDelay(30_001));
        assert.throws(() => parseGrantDelay({ min: 10, max: 5 }));
    });

    describe('JSON-RPC 3.0', () => {
        test('generateCustomerToken then getAccessStatus on both paths', async () => {
            for (const at of ['/3.0/json-rpc', '/api/3.0/json-rpc']) {
                const t = await rpc('generateCustomerToken', { publisherToken: TOKEN, customerEmail: 'rpc@example.com' }, at);
                assert.equal(t.status, 200);
                assert.equal(t.json.error, null);
                assert.equal(typeof t.json.result.token, 'string');
                const s = await rpc('getAccessStatus', { customerToken: t.json.result.token, offerId: 'S123123124_US', ipAddress: '10.0.0.1' }, at);
                assert.deepEqual(s.json.result, { accessGranted: false, grantType: null, expiresAt: null, purchasedDirectly: false });
                assert.equal(s.json.error, null);
            }
            emu.grantNow('rpc@example.com', 'S123123124_US');
            const s = await accessFor('RPC@example.com', 'S123123124_US');
            assert.equal(s.accessGranted, true);
        });

        test('error 1 for an invalid customer token (also after expireCustomerTokens)', async () => {
            const a = await rpc('getAccessStatus', { customerToken: 'nope-nope', offerId: 'S123123123_US' });
            assert.deepEqual(a.json, { result: null, error: { code: 1, message: a.json.error.message }, id: 7, jsonrpc: '2.0' });
            const t = await rpc('generateCustomerToken', { publisherToken: TOKEN, customerEmail: 'x@example.com' });
            emu.expireCustomerTokens();
            const b = await rpc('getAccessStatus', { customerToken: t.json.result.token, offerId: 'S123123123_US' });
            assert.equal(b.json.error.code, 1);
        });

        test('error 4 for an unknown offer, 16 for invalid arguments, and a bad publisher token is refused', async () => {
            const t = await rpc('generateCustomerToken', { publisherToken: TOKEN, customerEmail: 'y@example.com' });
            const a = await rpc('getAccessStatus', { customerToken: t.json.result.token, offerId: 'S000000000_US' });
            assert.equal(a.json.error.code, 4);
            assert.equal(a.json.result, null);
            const b = await rpc('getAccessStatus', { offerId: 'S123123123_US' });
            assert.equal(b.json.error.code, 16);
            const c = await rpc('generateCustomerToken', { publisherToken: 'not-the-token', customerEmail: 'y@example.com' });
            assert.equal(c.json.result, null);
            assert.equal(c.json.error.code, 3, 'Cleeng documents 3 as "Invalid publisher token"');
            const e = await rpc('generateCustomerToken', { publisherToken: TOKEN });
            assert.equal(e.json.error.code, 11, 'Cleeng documents 11 as "Invalid arguments" for generateCustomerToken');
            const d = await rpc('noSuchMethod', {});
            assert.equal(d.json.error.code, -32601);
            for (const answer of [a, b, c, d, e]) {
                assert.ok(cleengSchemas.rpcResponse(answer.json), JSON.stringify(answer.json));
            }
        });
    });

    test('android: the contract example is queued; a SKU that is not the offer in lower case is 422', async () => {
        const body = example('android-payment.request.json') as { receipt: Record<string, unknown> };
        const a = await post(emu.url, '/android/payment', body, auth);
        assert.equal(a.status, 200);
        assert.deepEqual(a.json, { message: 'OK' });
        assert.deepEqual(
            emu.purchases().map((p) => [p.store, p.purchaseId]),
            [['android', body.receipt.purchaseToken]]
        );
        const wrong = { ...body, receipt: { ...body.receipt, productId: 'S123123123_US', purchaseToken: 'other' } };
        assert.equal((await post(emu.url, '/android/payment', wrong, auth)).status, 422);
        assert.equal((await post(emu.url, '/android/payment', { ...body, receipt: { ...body.receipt, purchaseTime: 'x' } }, auth)).status, 400);
        assert.equal(emu.purchases().length, 1);
    });

    test('waitForPurchases and waitForRequests resolve on arrival and reject, naming what came, after their ceiling', async () => {
        const r = receipt();
        const waiting = emu.waitForPurchases(1, 20_000);
        const requests = emu.waitForRequests('/roku/payment', 2, 20_000);
        await post(emu.url, '/roku/payment', r, { 'X-Publisher-Token': 'wrong-token-value' });
        await post(emu.url, '/roku/payment', r, auth);
        assert.deepEqual(
            (await waiting).map((p) => p.purchaseId),
            [r.order.purchaseId]
        );
        assert.equal((await requests).length, 2);
        await assert.rejects(emu.waitForPurchases(2, 50), /2 purchase\(s\); have 1 after POST \/roku\/payment/);
    });

    test('the grant delay can be changed at run time, by call and over HTTP', async () => {
        emu.setGrantDelay(0);
        const r = receipt();
        await post(emu.url, '/roku/payment', r, auth);
        assert.ok(await waitFor(() => emu.hasAccess(r.customerEmail, r.offerId), 10_000));
        const slow = await post(emu.url, '/__emulator/grant-delay', { ms: 30_000 });
        assert.equal(slow.status, 200);
        const later = receipt();
        await post(emu.url, '/roku/payment', later, auth);
        assert.equal(emu.hasAccess(later.customerEmail, later.offerId), false, 'queued with a 30 s delay');
        assert.equal((await post(emu.url, '/__emulator/grant-delay', { ms: 30_001 })).status, 400);
        assert.equal((await post(emu.url, '/__emulator/grant-delay', { min: 300, max: 400 })).status, 200);
    });

    describe('faults', () => {
        test('rpc-error answers a JSON-RPC call with that Cleeng code and leaves payments alone', async () => {
            emu.setFault({ kind: 'rpc-error', code: 14, count: 1 });
            assert.equal((await post(emu.url, '/roku/payment', receipt(), auth)).status, 200);
            const a = await rpc('getAccessStatus', { customerToken: 'whatever', offerId: 'S123123123_US' }, '/api/3.0/json-rpc');
            assert.equal(a.status, 200);
            assert.deepEqual([a.json.result, a.json.error.code, a.json.id], [null, 14, 7]);
            const b = await rpc('getAccessStatus', { customerToken: 'whatever', offerId: 'S123123123_US' });
            assert.equal(b.json.error.code, 1, 'the count is used up');
        });

        test('status fault with a count answers that status, then normal answers resume', async () => {
            emu.setFault({ kind: 'status', status: 503, count: 2 });
            assert.equal((await post(emu.url, '/roku/payment', receipt(), auth)).status, 503);
            assert.equal((await post(emu.url, '/roku/payment', receipt(), auth)).status, 503);
            assert.equal((await post(emu.url, '/roku/payment', receipt(), auth)).status, 200);
            assert.equal(emu.requests.length, 3, 'faulted requests are recorded too');
        });

        test('a path filter limits the fault to that path', async () => {
            emu.setFault({ kind: 'status', status: 500, path: '/3.0/json-rpc' });
            assert.equal((await post(emu.url, '/roku/payment', receipt(), auth)).status, 200);
            assert.equal((await rpc('getAccessStatus', {})).status, 500);
            emu.setFault(null);
            assert.equal((await rpc('getAccessStatus', {})).status, 200);
        });

        test('malformed answers 200 with invalid JSON', async () => {
            emu.setFault({ kind: 'malformed', count: 1 });
            const a = await post(emu.url, '/roku/payment', receipt(), auth);
            assert.equal(a.status, 200);
            assert.equal(a.json, undefined);
            assert.throws(() => JSON.parse(a.text));
        });

        test('drop destroys the socket', async () => {
            emu.setFault({ kind: 'drop', count: 1 });
            await assert.rejects(post(emu.url, '/roku/payment', receipt(), auth));
            assert.equal((await post(emu.url, '/roku/payment', receipt(), auth)).status, 200);
        });

        test('timeout never answers; the client gives up and close() still returns', async () => {
            const own = await startCleengEmulator({ publisherToken: TOKEN, grantDelayMs: 0 });
            own.setFault({ kind: 'timeout' });
            await assert.rejects(call(own.url, '/roku/payment', { method: 'POST', body: receipt(), headers: auth, timeoutMs: 300 }), /client timeout/);
            // A second request left hanging while we close: close() must cut it.
            const hanging = call(own.url, '/3.0/json-rpc', { method: 'POST', body: {}, timeoutMs: 20_000 }).then(
                () => 'answered',
                () => 'cut',
            );
            await waitFor(() => own.requests.length === 2);
            await own.close();
            assert.equal(await hanging, 'cut');
        });

        test('slow delays the answer by at least the given time, then answers normally', async () => {
            emu.setFault({ kind: 'slow', ms: 200, count: 1 });
            const t0 = Date.now();
            const a = await post(emu.url, '/roku/payment', receipt(), auth);
            assert.equal(a.status, 200);
            assert.ok(Date.now() - t0 >= 190);
        });

        test('invalid faults are refused', () => {
            assert.throws(() => emu.setFault({ kind: 'status', status: 42 }));
            assert.throws(() => emu.setFault({ kind: 'nope' } as never));
        });
    });

    describe('HTTP control routes (for tests in another process)', () => {
        test('fault, requests, grant and reset over HTTP', async () => {
            const f = await post(emu.url, '/__emulator/fault', { kind: 'status', status: 500, count: 1, path: '/roku/payment' });
            assert.equal(f.status, 200);
            assert.equal((await post(emu.url, '/roku/payment', receipt(), auth)).status, 500);
            assert.equal((await post(emu.url, '/__emulator/fault', { kind: 'bogus' })).status, 400);
            const reqs = await call(emu.url, '/__emulator/requests');
            assert.equal(reqs.json.requests.length, 1, 'control calls are not recorded');
            assert.equal(reqs.json.requests[0].path, '/roku/payment');
            assert.equal((await post(emu.url, '/__emulator/grant', { customerEmail: 'g@example.com', offerId: 'S123123125_US' })).status, 200);
            assert.equal(emu.hasAccess('g@example.com', 'S123123125_US'), true);
            assert.equal((await post(emu.url, '/__emulator/reset', {})).status, 200);
            assert.equal(emu.requests.length, 0);
            assert.equal(emu.hasAccess('g@example.com', 'S123123125_US'), false);
            await post(emu.url, '/__emulator/fault', null);
        });
    });

    describe('CORS', () => {
        test('answers OPTIONS preflight and puts CORS headers on every answer, errors included', async () => {
            const pre = await call(emu.url, '/roku/payment', {
                method: 'OPTIONS',
                headers: { Origin: 'http://localhost:5173', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-publisher-token' },
            });
            assert.equal(pre.status, 204);
            assert.equal(pre.headers['access-control-allow-origin'], '*');
            assert.match(String(pre.headers['access-control-allow-headers']), /X-Publisher-Token/);
            assert.match(String(pre.headers['access-control-allow-headers']), /Authorization/);
            assert.match(String(pre.headers['access-control-allow-headers']), /Content-Type/);
            assert.match(String(pre.headers['access-control-allow-methods']), /POST/);
            const err = await post(emu.url, '/roku/payment', receipt(), {});
            assert.equal(err.status, 401);
            assert.equal(err.headers['access-control-allow-origin'], '*');
            emu.setFault({ kind: 'status', status: 503, count: 1 });
            assert.equal((await post(emu.url, '/roku/payment', receipt(), auth)).headers['access-control-allow-origin'], '*');
        });
    });
});

describe('Cleeng emulator CLI', () => {
    test('prints its URL, serves, logs no emails or tokens, and stops on SIGTERM', async () => {
        const root = path.resolve(__dirname, '../..');
        const child = spawn(process.execPath, ['--require', 'ts-node/register', 'emulators/cleeng/cli.ts', '--port', '0', '--grant-delay', '10-20', '--publisher-token', TOKEN], {
            cwd: root,
            // Types were checked when this test file compiled; the child only needs to run.
            env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (out += c.toString()));
        const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
        try {
            assert.ok(await waitFor(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(out), 30_000), out);
            const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
            const r = receipt();
            assert.equal((await post(url, '/roku/payment', r, auth)).status, 200);
            assert.ok(await waitFor(() => out.includes('/roku/payment')));
            assert.ok(!out.includes(r.customerEmail) && !out.includes(TOKEN), 'no email or token in the log');
            assert.match(out, /"method":"POST","path":"\/roku\/payment","status":200,"requestId":"[^"]+"/);
            child.kill('SIGTERM');
            assert.equal(await exited, 0);
        } finally {
            if (child.exitCode === null) {
                child.kill('SIGKILL');
            }
        }
    });
});
