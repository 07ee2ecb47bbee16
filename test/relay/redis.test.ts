import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { createClient } from 'redis';
import { startRelay, RelayHandle, RelayConfigInput } from '../../relay';
import { startTestRedis } from './redis-server';
import { call, leaks, onRedisWithCleeng, post } from './helpers';

// The shared state on a real redis-server: what one instance records, every other one sees.

const TOKEN = 'redis-test-publisher-token-77c1';
const SECRET = 'redis-test-relay-secret-0123456789abcdef';

describe('shared state on Redis', () => {
    const f = onRedisWithCleeng(TOKEN, SECRET);
    const { relays, emails, tracked } = f;
    const logs: string[] = [];
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

    function config(over: Partial<RelayConfigInput> = {}): RelayConfigInput {
        return f.relayConfig({ retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 }, logSink: (l) => logs.push(l), ...over });
    }
    async function two(over: Partial<RelayConfigInput> = {}): Promise<[RelayHandle, RelayHandle]> {
        const a = await startRelay(config(over));
        const b = await startRelay(config(over));
        relays.push(a, b);
        return [a, b];
    }

    test('a receipt accepted by one instance is answered by another from the record, kept at least 30 days, owner as a keyed hash', async () => {
        const [a, b] = await two();
        assert.equal(a.store, 'redis');
        const r = tracked();
        assert.equal((await post(a.url, '/v1/roku/receipts', r)).status, 200);
        const again = await post(b.url, '/v1/roku/receipts', r);
        assert.equal(again.status, 200);
        assert.equal(f.cleeng.posts.get(r.order.purchaseId), 1);
        const taken = await post(b.url, '/v1/roku/receipts', { ...r, customerEmail: `other.${r.customerEmail}` });
        assert.equal(taken.status, 409);
        assert.equal(taken.json.error.code, 'PURCHASE_OWNED');
        // The check token from instance A opens the check on instance B (shared secret).
        const first = await post(a.url, '/v1/roku/receipts', r);
        const checked = await post(b.url, '/v1/entitlements/check', { customerEmail: r.customerEmail, offerId: r.offerId, checkToken: first.json.checkToken });
        assert.equal(checked.status, 200);
        assert.equal(checked.json.accessGranted, true);
        const client = createClient({ url: f.redis.url });
        await client.connect();
        try {
            const key = `relay:r:roku:${r.order.purchaseId}`;
            const rec = await client.hGetAll(key);
            assert.equal(rec.state, 'accepted');
            assert.equal(rec.offer, r.offerId);
            assert.ok(rec.owner && !rec.owner.includes('@') && !JSON.stringify(rec).includes(r.customerEmail));
            const ttl = await client.pTTL(key);
            assert.ok(ttl >= 30 * 24 * 3600_000 - 60_000, `kept ${ttl} ms`);
            // Nothing in Redis holds an email address.
            const all = await client.keys('relay:*');
            assert.ok(all.length > 0);
            assert.ok(!all.some((k) => k.includes('@')));
        } finally {
            client.destroy();
        }
    });

    test('nonces, rate limits and the customer-token cache are shared across instances', async () => {
        const pem = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();
        const [a, b] = await two({ attestation: { cert: pem }, rateLimit: { perIp: 0, perEmail: 0 } });
        const n = (await post(a.url, '/v1/nonce', {})).json.nonce as string;
        const head = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT' })).toString('base64url');
        const claims = Buffer.from(JSON.stringify({ nonce: n, iat: Math.floor(Date.now() / 1000) })).toString('base64url');
        const sig = sign('sha256', Buffer.from(`${head}.${claims}`), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
        const attestation = { token: `${head}.${claims}.${sig}`, nonce: n };
        const r = tracked();
        assert.equal((await post(b.url, '/v1/roku/receipts', { ...r, attestation })).status, 200, 'a nonce from A is accepted by B');
        const replay = await post(a.url, '/v1/roku/receipts', { ...tracked(), attestation });
        assert.equal(replay.status, 401, 'and used up for A too');

        const [c, d] = await two({ rateLimit: { perIp: 3, perEmail: 0, windowMs: 60_000 } });
        const statuses = [];
        for (const url of [c.url, d.url, c.url, d.url]) {
            statuses.push((await post(url, '/v1/nonce', {})).status);
        }
        assert.deepEqual(statuses, [200, 200, 200, 429], 'one budget across instances');

        const [e, g] = await two();
        const s = tracked();
        const accepted = await post(e.url, '/v1/roku/receipts', s);
        const tokensBefore = f.cleeng.rpc.get('generateCustomerToken') ?? 0;
        assert.equal((await post(e.url, '/v1/entitlements/check', { customerEmail: s.customerEmail, offerId: s.offerId, checkToken: accepted.json.checkToken })).status, 200);
        assert.equal((await post(g.url, '/v1/entitlements/check', { customerEmail: s.customerEmail, offerId: s.offerId, checkToken: accepted.json.checkToken })).status, 200);
        assert.equal((f.cleeng.rpc.get('generateCustomerToken') ?? 0) - tokensBefore, 1, "B used the customer token A cached");
    });

    test('Redis down: receipts answer 503 STORE_UNAVAILABLE with Retry-After, nothing reaches Cleeng, health says 503', async () => {
        const own = await startTestRedis();
        const relay = await startRelay(config({ redisUrl: own.url, retryAfterSec: 3 }));
        relays.push(relay);
        assert.equal((await call(relay.url, '/healthz')).status, 200);
        await own.stop();
        const r = tracked();
        const a = await post(relay.url, '/v1/roku/receipts', r);
        assert.equal(a.status, 503);
        assert.equal(a.json.error.code, 'STORE_UNAVAILABLE');
        assert.equal(a.headers['retry-after'], '3');
        assert.equal(f.cleeng.posts.has(r.order.purchaseId), false, 'nothing forwarded without the store');
        const h = await call(relay.url, '/healthz');
        assert.equal(h.status, 503);
        assert.equal(h.json.error.code, 'STORE_UNAVAILABLE');
        assert.ok(logs.some((l) => l.includes('"msg":"store unavailable"')));
    });

    test('no log line holds an email, the publisher token or the relay secret; receipt lines carry a purchase reference and the request id', () => {
        assert.deepEqual(leaks(logs, [TOKEN, SECRET, ...emails]), []);
        const receiptLines = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.path === '/v1/roku/receipts');
        assert.ok(receiptLines.length > 5);
        for (const o of receiptLines) {
            assert.equal(typeof o.requestId, 'string');
            assert.match(String(o.purchaseRef), /^p_[A-Za-z0-9_-]{16}$/);
        }
    });
});
