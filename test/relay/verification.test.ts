import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startCleengEmulator, CleengEmulator } from '../../emulators/cleeng';
import { startRelay, RelayHandle, RelayConfigInput } from '../../relay';
import { loadAttestationKey } from '../../relay/attestation';
import { judgeRokuValidation } from '../../relay/upstream';
import { call, leaks, post, receipt } from './helpers';

// Proof checks before anything is forwarded: the device attestation and Roku's validate-transaction.
// Each part sits in its own block scope (own tokens, own captured logs).

// ---- device attestation --------------------------------------------------------------------
{
    const TOKEN = 'attest-test-publisher-token-77aa';
    const CHANNEL = 'dev-channel-4242';
    const logs: string[] = [];
    const tokensSent: string[] = [];

    function b64url(o: object): string {
        return Buffer.from(JSON.stringify(o)).toString('base64url');
    }

    /** A compact JWS signed with `key` (RS256 for RSA keys, ES256 for P-256 keys). */
    function jwt(claims: Record<string, unknown>, key: KeyObject, alg: 'RS256' | 'ES256' = 'RS256', header: Record<string, unknown> = {}): string {
        const head = b64url({ alg, typ: 'JWT', ...header });
        const body = b64url(claims);
        const data = Buffer.from(`${head}.${body}`);
        const sig = alg === 'RS256' ? sign('sha256', data, key) : sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
        const t = `${head}.${body}.${sig.toString('base64url')}`;
        tokensSent.push(t);
        return t;
    }

    describe('device attestation', () => {
        let dir: string;
        let emu: CleengEmulator;
        let relay: RelayHandle;
        let ecRelay: RelayHandle;
        const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        let certPath: string;

        function config(over: Partial<RelayConfigInput>): RelayConfigInput {
            return {
                publisherToken: TOKEN,
                cleengRokuPaymentUrl: `${emu.url}/roku/payment`,
                cleengJsonRpcUrl: `${emu.url}/3.0/json-rpc`,
                port: 0,
                retry: { attempts: 1 },
                rateLimit: { perIp: 0, perEmail: 0 },
                logSink: (l) => logs.push(l),
                ...over,
            };
        }

        before(async () => {
            dir = mkdtempSync(path.join(tmpdir(), 'relay-attest-'));
            const keyPath = path.join(dir, 'device.key');
            certPath = path.join(dir, 'device.crt');
            writeFileSync(keyPath, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
            // A self-signed certificate standing in for Roku's attestation certificate.
            execFileSync('openssl', ['req', '-x509', '-new', '-key', keyPath, '-subj', '/CN=roku-attestation-test', '-days', '2', '-out', certPath], { stdio: 'ignore' });
            emu = await startCleengEmulator({ publisherToken: TOKEN, grantDelayMs: 0 });
            relay = await startRelay(config({ attestation: { cert: certPath, channelId: CHANNEL, skewSec: 5, maxAgeSec: 120 } }));
            ecRelay = await startRelay(
                config({ attestation: { cert: ec.publicKey.export({ type: 'spki', format: 'pem' }).toString(), skewSec: 5, maxAgeSec: 120, nonceTtlMs: 150 } }),
            );
        });
        after(async () => {
            await relay.close();
            await ecRelay.close();
            await emu.close();
            rmSync(dir, { recursive: true, force: true });
        });
        beforeEach(() => emu.reset());

        const payments = () => emu.requests.filter((r) => r.path === '/roku/payment');
        async function nonce(at = relay): Promise<string> {
            const a = await post(at.url, '/v1/nonce', {});
            assert.equal(a.status, 200);
            assert.equal(typeof a.json.nonce, 'string');
            assert.ok(a.json.expiresAt > Date.now());
            return a.json.nonce;
        }
        const now = () => Math.floor(Date.now() / 1000);
        function claims(n: string, over: Record<string, unknown> = {}) {
            return { nonce: n, channelId: CHANNEL, iat: now(), exp: now() + 60, ...over };
        }
        async function send(attestation: unknown, at = relay) {
            return post(at.url, '/v1/roku/receipts', { ...receipt(), attestation });
        }
        async function refused(attestation: unknown, at = relay): Promise<void> {
            const a = await send(attestation, at);
            assert.equal(a.status, 401);
            assert.equal(a.json.error.code, 'ATTESTATION_INVALID');
            assert.equal(payments().length, 0, 'nothing forwarded');
        }

        test('the certificate loads (and a PEM public key too)', () => {
            const k = loadAttestationKey(certPath);
            assert.equal(k.key.asymmetricKeyType, 'rsa');
            assert.ok(k.validTo! > Date.now());
            assert.equal(loadAttestationKey(readFileSync(certPath, 'utf8')).key.asymmetricKeyType, 'rsa');
            assert.equal(loadAttestationKey(ec.publicKey.export({ type: 'spki', format: 'pem' }).toString()).key.asymmetricKeyType, 'ec');
        });

        test('accepted: RS256 token signed by the certificate key, with a fresh relay nonce and the channel ID', async () => {
            const n = await nonce();
            const a = await send({ token: jwt(claims(n), rsa.privateKey), nonce: n });
            assert.equal(a.status, 200);
            assert.equal(payments().length, 1);
            assert.equal((payments()[0]!.json as Record<string, unknown>).attestation, undefined, 'the proof is not forwarded to Cleeng');
        });

        test('accepted: ES256 token against a configured PEM public key', async () => {
            const n = await nonce(ecRelay);
            const a = await send({ token: jwt({ nonce: n, iat: now() }, ec.privateKey, 'ES256'), nonce: n }, ecRelay);
            assert.equal(a.status, 200);
        });

        test('refused: no attestation at all → 401 ATTESTATION_REQUIRED', async () => {
            const a = await send(undefined);
            assert.equal(a.status, 401);
            assert.equal(a.json.error.code, 'ATTESTATION_REQUIRED');
            assert.equal(payments().length, 0, 'nothing forwarded');
        });

        test('health tells the channel that a device proof is required', async () => {
            const a = await call(relay.url, '/healthz');
            assert.deepEqual(a.json, { ok: true, attestationRequired: true });
        });

        test('a device proof also opens /v1/entitlements/check (a returning viewer on a new device)', async () => {
            const n = await nonce();
            const a = await post(relay.url, '/v1/entitlements/check', { customerEmail: 'newdevice@example.com', offerId: 'S123123123_US', attestation: { token: jwt(claims(n), rsa.privateKey), nonce: n } });
            assert.equal(a.status, 200);
            assert.equal(a.json.accessGranted, false);
            const replay = await post(relay.url, '/v1/entitlements/check', { customerEmail: 'newdevice@example.com', offerId: 'S123123123_US', attestation: { token: tokensSent[tokensSent.length - 1], nonce: n } });
            assert.equal(replay.status, 401, 'the nonce was used up');
            assert.equal(replay.json.error.code, 'ATTESTATION_INVALID');
        });

        test('refused: signature by another key', async () => {
            const n = await nonce();
            await refused({ token: jwt(claims(n), other.privateKey), nonce: n });
        });

        test('refused: claims altered after signing', async () => {
            const n = await nonce();
            const [h, , s] = jwt(claims(n), rsa.privateKey).split('.');
            await refused({ token: `${h}.${b64url(claims(n, { channelId: CHANNEL, exp: now() + 9999 }))}.${s}`, nonce: n });
        });

        test('refused: the nonce claim differs from the nonce given', async () => {
            const n1 = await nonce();
            const n2 = await nonce();
            await refused({ token: jwt(claims(n1), rsa.privateKey), nonce: n2 });
        });

        test('refused: a nonce the relay never issued', async () => {
            await refused({ token: jwt(claims('made-up-nonce-123'), rsa.privateKey), nonce: 'made-up-nonce-123' });
        });

        test('refused: a nonce used twice (the first use is accepted)', async () => {
            const n = await nonce();
            const att = { token: jwt(claims(n), rsa.privateKey), nonce: n };
            assert.equal((await send(att)).status, 200);
            emu.reset();
            await refused(att);
        });

        test('refused: expired token (exp in the past beyond the skew)', async () => {
            const n = await nonce();
            await refused({ token: jwt(claims(n, { iat: now() - 100, exp: now() - 30 }), rsa.privateKey), nonce: n });
        });

        test('refused: issued too long ago, or in the future', async () => {
            const n1 = await nonce();
            await refused({ token: jwt(claims(n1, { iat: now() - 3600, exp: undefined }), rsa.privateKey), nonce: n1 });
            const n2 = await nonce();
            await refused({ token: jwt(claims(n2, { iat: now() + 600 }), rsa.privateKey), nonce: n2 });
        });

        test('refused: wrong channel ID', async () => {
            const n = await nonce();
            await refused({ token: jwt(claims(n, { channelId: 'someone-else' }), rsa.privateKey), nonce: n });
        });

        test('refused: alg "none" and an algorithm that does not fit the key', async () => {
            const n1 = await nonce();
            const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims(n1))}.`;
            await refused({ token: unsigned, nonce: n1 });
            const n2 = await nonce();
            await refused({ token: jwt(claims(n2), rsa.privateKey, 'RS256', { alg: 'ES256' }), nonce: n2 });
        });

        test('refused: a nonce past its lifetime', async () => {
            const n = await nonce(ecRelay);
            await new Promise((r) => setTimeout(r, 250));
            await refused({ token: jwt({ nonce: n, iat: now() }, ec.privateKey, 'ES256'), nonce: n }, ecRelay);
        });

        test('logs never hold an attestation token, the publisher token or an email', () => {
            assert.ok(logs.some((l) => l.includes('"deviceProof":"signature"')), 'refusal reasons are logged');
            assert.ok(tokensSent.length >= 10);
            assert.deepEqual(leaks(logs, [TOKEN, ...tokensSent]), []);
            assert.ok(!logs.some((l) => l.includes('@example.com')));
        });
    });
}

// ---- Roku validate-transaction ------------------------------------------------------------
{
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
}
