/**
 * The purchase ledger end to end (docs/cleeng.md "Guarantees"): the channel in the simulator,
 * the store emulator answering from csFake scenarios, and on the Cleeng side either the Cleeng
 * emulator or the real relay (the code `npm run relay` starts) in front of it.
 *
 *   S3   the record is in the registry the moment Roku's order succeeds, even while the service
 *        is busy sending slow kept receipts; an app stopped right then sends it at the next launch.
 *   S10  with device proof required by the relay, the channel gets a nonce, a device attestation
 *        token for it, and sends a fresh one after ATTESTATION_INVALID.
 *   S8   (e2e) the tax-line-first order still goes through; the Rooibos suites cover letter case.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCleengEmulator, type CleengEmulator } from '../../emulators/cleeng';
import type { LocalStack } from '../../scripts/lib/local-stack';
import { startRelay, type RelayHandle } from '../../relay';
import { startSimulatorSession } from '../../scripts/lib/simulator';
import type { SimulatorResult } from '../../scripts/lib/simulator-types';
import { buildE2E, EXIT_WITH_BACK, explain, onScreen, runChannel, screenshotsDir, startChain } from './support';

/** The purchase ID of new-viewer's PlaceOrder.xml. */
const NEW_PURCHASE = '7d1e4b2a9c0f4e6b8a3d5c7e9f1a2b01';
const BUY_FIRST_PLAN = [...onScreen('catalog', ['Select'])];

/** A kept record as an older channel wrote it (a JSON object): the ledger reads both encodings. */
function keptRecord(purchaseId: string): string {
    return JSON.stringify({
        customerEmail: 'kept.viewer@example.com',
        offerId: 'S123123123_US',
        code: 'S123123123-US',
        purchaseId,
        qty: 1,
        amount: '$4.99',
        total: '$4.99',
        ipAddress: '',
        createdAt: 1700000000,
        state: 'pending',
        attempts: 4,
        nextAttemptAt: 1700000100,
        lastError: 'HTTP 503'
    });
}

/** Runs a session and stops it the moment a console line matches (as if the TV lost power). */
async function stopOn(marker: RegExp, opts: Parameters<typeof startSimulatorSession>[0]): Promise<{ result: SimulatorResult; seen: boolean }> {
    let seen = false;
    let release!: () => void;
    const reached = new Promise<void>((resolve) => (release = resolve));
    const session = await startSimulatorSession({
        ...opts,
        onLine: (line) => {
            if (process.env.E2E_VERBOSE) {
                console.log(line);
            }
            if (!seen && marker.test(line)) {
                seen = true;
                release();
            }
        }
    });
    await Promise.race([reached, session.done]);
    const result = await session.stop();
    return { result, seen };
}

describe('the purchase ledger end to end', { concurrency: false }, () => {
    let stack: LocalStack;
    let emulator: CleengEmulator;
    let app: string;
    const payments = (): string[] => emulator.requests.filter((r) => r.path === '/roku/payment').map((r) => (r.json as { order: { purchaseId: string } }).order.purchaseId);

    before(async () => {
        stack = await startChain({ cleeng: { grantDelayMs: 500 } });
        emulator = stack.cleeng;
        app = await buildE2E('new-viewer', stack.relayUrl);
    });
    after(async () => {
        await stack.close();
    });

    it('S3: the purchase is in the registry the moment the order succeeds while the service is busy with slow kept receipts; the relaunch sends it', async () => {
        emulator.reset();
        await stack.resetRelay();
        // Three kept receipts, each answered slowly: the service is busy with them from launch.
        emulator.setFault({ kind: 'slow', ms: 5000, path: '/roku/payment' });
        const registry = { cleeng_outbox: { 'r.kept-1': keptRecord('kept-1'), 'r.kept-2': keptRecord('kept-2'), 'r.kept-3': keptRecord('kept-3') } };
        const { result: first, seen } = await stopOn(/^\[flow\] -> cleeng submit/, {
            app,
            launchParams: { store: 'emulator' },
            registry,
            screenshotsDir,
            timeoutMs: 60000,
            keys: BUY_FIRST_PLAN
        });
        assert.ok(seen, `the order went through: ${explain(first)}`);
        assert.equal(first.reason, 'stopped');
        assert.ok(!payments().includes(NEW_PURCHASE), `the new purchase was not posted before the stop (${payments().join(',')})`);
        const answered = first.lines.filter((l) => /^\[cleeng\] receipt kept-\d (accepted|retrying|deferred)/.test(l));
        assert.ok(answered.length < 3, `the service was still busy with the kept receipts at the stop (${answered.length} of 3 answered)`);
        const outbox = first.registry.cleeng_outbox ?? {};
        assert.ok(outbox[`r.${NEW_PURCHASE}`], `the new purchase is in the registry at the stop: ${Object.keys(outbox).join(',')}`);

        emulator.setFault(null);
        emulator.reset();
        await stack.resetRelay();
        const second = await runChannel({
            app,
            launchParams: { store: 'emulator' },
            registry: first.registry,
            keys: [{ when: new RegExp(`\\[cleeng\\] receipt ${NEW_PURCHASE} accepted`) }, ...EXIT_WITH_BACK],
            timeoutMs: 90000
        });
        assert.equal(second.reason, 'closed', explain(second));
        assert.ok(payments().includes(NEW_PURCHASE), `the relaunch sent the purchase: ${payments().join(',')}`);
        assert.equal(second.registry.cleeng_outbox?.[`r.${NEW_PURCHASE}`], undefined, 'and it left the ledger once accepted');
    });

    it('X-Request-Id on every receipt send: the relay logs the ID the channel printed, which names the purchase only by hash', async () => {
        emulator.reset();
        await stack.resetRelay();
        const result = await runChannel({
            app,
            launchParams: { store: 'emulator' },
            keys: [...BUY_FIRST_PLAN, { when: /\[cleeng\] receipt \S+ accepted/, key: 'Back' }],
            timeoutMs: 60000
        });
        assert.equal(result.reason, 'closed', explain(result));
        const sent = result.lines.map((l) => /send request=(\S+)/.exec(l)?.[1]).filter((x): x is string => !!x);
        assert.ok(sent.length >= 1, explain(result));
        for (const id of sent) {
            assert.match(id, /^rk-[0-9a-f]{12}-\d+-[0-9a-f]{4}$/);
            assert.ok(!id.includes(NEW_PURCHASE));
            assert.ok(stack.relayLog.some((l) => l.includes(id)), `the relay logged ${id}`);
        }
    });
});

describe('device proof against the real relay (S10)', { concurrency: false }, () => {
    const CHANNEL = 'dev';
    const device = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let dir: string;
    let emulator: CleengEmulator;
    let relay: RelayHandle;
    let tokens: http.Server;
    let tokenUrl: string;
    const nonces: string[] = [];
    const logs: string[] = [];

    function jwt(claims: Record<string, unknown>, key: KeyObject): string {
        const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
        const data = `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}`;
        return `${data}.${sign('sha256', Buffer.from(data), key).toString('base64url')}`;
    }

    before(async () => {
        dir = mkdtempSync(path.join(tmpdir(), 'ledger-attest-'));
        const keyPath = path.join(dir, 'device.key');
        const certPath = path.join(dir, 'device.crt');
        writeFileSync(keyPath, device.privateKey.export({ type: 'pkcs8', format: 'pem' }));
        // A self-signed certificate standing in for Roku's device attestation certificate.
        execFileSync('openssl', ['req', '-x509', '-new', '-key', keyPath, '-subj', '/CN=roku-attestation-test', '-days', '2', '-out', certPath], { stdio: 'ignore' });
        emulator = await startCleengEmulator({ publisherToken: 'emulator-publisher-token', grantDelayMs: 500 });
        relay = await startRelay({
            publisherToken: 'emulator-publisher-token',
            cleengRokuPaymentUrl: `${emulator.url}/roku/payment`,
            cleengJsonRpcUrl: `${emulator.url}/3.0/json-rpc`,
            port: 0,
            cors: '*',
            retry: { attempts: 1 },
            rateLimit: { perIp: 0, perEmail: 0 },
            attestation: { cert: certPath, channelId: CHANNEL, skewSec: 30, maxAgeSec: 300 },
            logSink: (l: string) => logs.push(l)
        });
        // Stands in for Roku's cloud: signs a device attestation token for a nonce. The first one
        // is signed by a key the relay does not trust, so the relay answers ATTESTATION_INVALID.
        tokens = http.createServer((req, res) => {
            const nonce = new URL(req.url ?? '/', 'http://x').searchParams.get('nonce') ?? '';
            nonces.push(nonce);
            const now = Math.floor(Date.now() / 1000);
            const data = { nonce, channelId: CHANNEL, developerId: 'test-developer', timestampMs: Date.now() };
            const claims = { ...data, 'x-roku-attestation-data': data, iss: 'urn:roku:cloud-services:device-attestation', iat: now, nbf: now - 5, exp: now + 120 };
            const body = jwt(claims, nonces.length === 1 ? stranger.privateKey : device.privateKey);
            res.writeHead(200, { 'Content-Type': 'text/plain', 'Access-Control-Allow-Origin': '*' });
            res.end(body);
        });
        await new Promise<void>((resolve) => tokens.listen(0, '127.0.0.1', resolve));
        tokenUrl = `http://127.0.0.1:${(tokens.address() as AddressInfo).port}/token`;
    });
    after(async () => {
        await relay?.close();
        await emulator?.close();
        await new Promise<void>((resolve) => tokens?.close(() => resolve()));
        rmSync(dir, { recursive: true, force: true });
    });

    it('S10: gets a nonce and a device attestation token, and a fresh token after ATTESTATION_INVALID; the receipt reaches Cleeng once', async () => {
        const app = await buildE2E('new-viewer', relay.url);
        const result = await runChannel({
            app,
            launchParams: { store: 'emulator', attestationUrl: tokenUrl },
            keys: [...BUY_FIRST_PLAN, { when: /\[cleeng\] receipt \S+ (accepted|unauthorized|deferred)/, key: 'Back' }],
            timeoutMs: 90000
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.ok(
            result.lines.some((l) => /\[cleeng\] receipt \S+ accepted/.test(l)),
            explain(result)
        );
        assert.ok(nonces.length >= 2, `a token per nonce, a fresh one after the refusal: ${nonces.join(',')}`);
        assert.equal(new Set(nonces).size, nonces.length, 'every token is for a new nonce');
        assert.ok(result.lines.some((l) => l.includes('device proof refused, fresh token')), explain(result));
        const payments = emulator.requests.filter((r) => r.path === '/roku/payment');
        assert.equal(payments.length, 1, 'forwarded to Cleeng once, after the valid proof');
        assert.equal((payments[0]!.json as { order: { purchaseId: string } }).order.purchaseId, NEW_PURCHASE);
        assert.equal((payments[0]!.json as Record<string, unknown>).attestation, undefined, 'the proof stays at the relay');
    });
});
