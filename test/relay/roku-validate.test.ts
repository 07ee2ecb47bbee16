import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startCleengEmulator, CleengEmulator } from '../../emulators/cleeng';
import { startRelay, RelayHandle } from '../../relay';
import { judgeRokuValidation } from '../../relay/upstream';
import { leaks, post, receipt } from './helpers';

const TOKEN = 'roku-test-publisher-token-3c3c';
const API_KEY = 'roku-partner-api-key-9d9d9d9d';
const logs: string[] = [];

/** A tiny fake of Roku Pay's validate-transaction web service. */
interface FakeRoku {
    url: string;
    seen: { path: string; accept: string | undefined }[];
    answers: Map<string, { status: number; body: unknown }>;
    close(): Promise<void>;
}

async function startFakeRoku(): Promise<FakeRoku> {
    const seen: FakeRoku['seen'] = [];
    const answers: FakeRoku['answers'] = new Map();
    const prefix = `/listen/transaction-service.svc/validate-transaction/${API_KEY}/`;
    const server = http.createServer((req, res) => {
        const p = req.url ?? '';
        seen.push({ path: p, accept: req.headers.accept });
        if (!p.startsWith(prefix)) {
            res.writeHead(401).end();
            return;
        }
        const tx = decodeURIComponent(p.slice(prefix.length));
        const a = answers.get(tx) ?? { status: 404, body: { status: 'Failure', errorCode: 404, errorMessage: 'Transaction not found' } };
        const text = JSON.stringify(a.body);
        res.writeHead(a.status, { 'Content-Type': 'application/json' }).end(text);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        seen,
        answers,
        close: () =>
            new Promise<void>((r) => {
                server.close(() => r());
                server.closeAllConnections();
            }),
    };
}

function entitled(tx: string, productId: string, over: Record<string, unknown> = {}) {
    return {
        status: 'Success',
        errorCode: null,
        errorMessage: '',
        transactionId: tx,
        productId,
        isEntitled: true,
        purchaseStatus: 'Active',
        amount: 4.99,
        ...over,
    };
}

describe('Roku validate-transaction check (ROKU_PARTNER_API_KEY set)', () => {
    let emu: CleengEmulator;
    let roku: FakeRoku;
    let relay: RelayHandle;

    before(async () => {
        emu = await startCleengEmulator({ publisherToken: TOKEN, grantDelayMs: 0 });
        roku = await startFakeRoku();
        relay = await startRelay({
            publisherToken: TOKEN,
            cleengRokuPaymentUrl: `${emu.url}/roku/payment`,
            cleengJsonRpcUrl: `${emu.url}/3.0/json-rpc`,
            rokuPartnerApiKey: API_KEY,
            rokuValidateUrl: roku.url,
            port: 0,
            retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
            rateLimit: { perIp: 0, perEmail: 0 },
            logSink: (l) => logs.push(l),
        });
    });
    after(async () => {
        await relay.close();
        await roku.close();
        await emu.close();
    });
    beforeEach(() => {
        emu.reset();
        roku.seen.length = 0;
        roku.answers.clear();
    });
    const payments = () => emu.requests.filter((r) => r.path === '/roku/payment');

    test('a verified transaction is forwarded; Roku was asked with the key, the transaction and Accept: application/json', async () => {
        const r = receipt();
        r.order.purchaseId = `a1b2c3/${r.order.purchaseId}`; // needs encoding in the URL path
        roku.answers.set(r.order.purchaseId, { status: 200, body: entitled(r.order.purchaseId, r.order.code) });
        const a = await post(relay.url, '/v1/roku/receipts', r);
        assert.equal(a.status, 200);
        assert.equal(payments().length, 1);
        assert.equal(roku.seen.length, 1);
        assert.equal(roku.seen[0]!.path, `/listen/transaction-service.svc/validate-transaction/${API_KEY}/${encodeURIComponent(r.order.purchaseId)}`);
        assert.equal(roku.seen[0]!.accept, 'application/json');
    });

    const refusals: [string, (tx: string, code: string) => { status: number; body: unknown } | undefined][] = [
        ['unknown transaction (404)', () => undefined],
        ['Roku reports a failure status', (tx, code) => ({ status: 200, body: entitled(tx, code, { status: 'Failure', errorCode: 2, errorMessage: 'Invalid' }) })],
        ['not entitled', (tx, code) => ({ status: 200, body: entitled(tx, code, { isEntitled: false }) })],
        ['another product', (tx) => ({ status: 200, body: entitled(tx, 'S123123125-US') })],
        ['another transaction', (_tx, code) => ({ status: 200, body: entitled('someone-elses-tx', code) })],
    ];
    for (const [name, answer] of refusals) {
        test(`403 TRANSACTION_NOT_VERIFIED and nothing forwarded: ${name}`, async () => {
            const r = receipt();
            const ans = answer(r.order.purchaseId, r.order.code);
            if (ans) {
                roku.answers.set(r.order.purchaseId, ans);
            }
            const a = await post(relay.url, '/v1/roku/receipts', r);
            assert.equal(a.status, 403);
            assert.equal(a.json.error.code, 'TRANSACTION_NOT_VERIFIED');
            assert.equal(roku.seen.length, 1);
            assert.equal(payments().length, 0);
        });
    }

    test('Roku down (5xx) is retried, then 503 ROKU_UNAVAILABLE with Retry-After; nothing forwarded', async () => {
        const r = receipt();
        roku.answers.set(r.order.purchaseId, { status: 500, body: {} });
        const a = await post(relay.url, '/v1/roku/receipts', r);
        assert.equal(a.status, 503);
        assert.equal(a.json.error.code, 'ROKU_UNAVAILABLE');
        assert.ok(a.headers['retry-after']);
        assert.equal(roku.seen.length, 2);
        assert.equal(payments().length, 0);
    });

    test('judgeRokuValidation accepts the numeric status 0 form too', () => {
        assert.deepEqual(judgeRokuValidation({ status: 0, isEntitled: true, productId: 'S1-US' }, 'tx', 'S1-US'), { kind: 'verified' });
        assert.equal(judgeRokuValidation({ status: 1, isEntitled: true, productId: 'S1-US' }, 'tx', 'S1-US').kind, 'refused');
        assert.equal(judgeRokuValidation({ isEntitled: 'true', productId: 'S1-US' }, 'tx', 'S1-US').kind, 'refused');
    });

    test('the Roku partner API key and the publisher token never appear in the logs', () => {
        assert.ok(logs.length > 5);
        assert.deepEqual(leaks(logs, [API_KEY, TOKEN, encodeURIComponent(API_KEY)]), []);
    });
});
