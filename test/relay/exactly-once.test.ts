import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRelay, RelayHandle } from '../../relay';
import { startTestRedis, TestRedis } from './redis-server';
import { startCleengDouble, CleengDouble, deliveryCounts } from './cleeng-double';
import { sendLikeTheChannel, startRoundRobinProxy } from './delivery-harness';
import { leaks, receipt, waitFor } from './helpers';

// Exactly once, with clients retrying as the channel does: every receipt reaches Cleeng once
// (0 lost, 0 doubled) when an instance is SIGKILLed mid-batch and restarted, with two instances
// behind a round-robin proxy, and with a full upstream pool (the D6 replay).

const ROOT = path.resolve(__dirname, '../..');
const TOKEN = 'exactly-once-publisher-token-a1b2c3';
const SECRET = 'exactly-once-relay-secret-0123456789abcdef';

interface Child {
    child: ChildProcess;
    out: () => string;
    exited: Promise<number | null>;
    url: Promise<string>;
}

function spawnRelay(env: Record<string, string>): Child {
    const child = spawn(process.execPath, ['--require', 'ts-node/register', 'relay/main.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', TS_NODE_TRANSPILE_ONLY: 'true', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const url = (async () => {
        assert.ok(await waitFor(() => /"msg":"relay listening"/.test(out) || child.exitCode !== null, 90_000), `relay did not start: ${out}`);
        const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
        assert.ok(m, `relay did not start: ${out}`);
        return m[1]!;
    })();
    return { child, out: () => out, exited, url };
}

describe('exactly once on Redis', () => {
    let redis: TestRedis;
    let cleeng: CleengDouble;
    const children: Child[] = [];
    const relays: RelayHandle[] = [];
    const emails: string[] = [];

    function tracked(): ReturnType<typeof receipt> {
        const r = receipt();
        emails.push(r.customerEmail);
        return r;
    }

    before(async () => {
        redis = await startTestRedis();
        cleeng = await startCleengDouble({ publisherToken: TOKEN });
    });
    after(async () => {
        for (const c of children) {
            if (c.child.exitCode === null) {
                c.child.kill('SIGKILL');
                await c.exited;
            }
        }
        await Promise.all(relays.map((r) => r.close()));
        await cleeng.close();
        await redis.stop();
    });

    const relayEnv = (over: Record<string, string> = {}): Record<string, string> => ({
        CLEENG_PUBLISHER_TOKEN: TOKEN,
        RELAY_SECRET: SECRET,
        CLEENG_ROKU_PAYMENT_URL: `${cleeng.url}/roku/payment`,
        CLEENG_JSONRPC_URL: `${cleeng.url}/3.0/json-rpc`,
        REDIS_URL: redis.url,
        RELAY_PORT: '0',
        RELAY_RATE_LIMIT_IP: '0',
        RELAY_RATE_LIMIT_EMAIL: '0',
        RELAY_RETRY_AFTER_S: '1',
        RELAY_INFLIGHT_WAIT_MS: '2000',
        RELAY_CLEENG_GRACE_MS: '4000',
        ...over,
    });

    test('one instance SIGKILLed mid-batch and restarted: 50 receipts, each posted to Cleeng exactly once', async () => {
        cleeng.answerDelayMs = 3_000;
        const first = spawnRelay(relayEnv());
        children.push(first);
        const url = await first.url;
        const port = new URL(url).port;
        const batch = Array.from({ length: 50 }, () => tracked());
        const sends = batch.map(async (r, i) => {
            await sleep(i * 20);
            return sendLikeTheChannel(`${url}/v1/roku/receipts`, r, { timeoutMs: 8_000, ceilingMs: 150_000 });
        });
        // Mid-batch: some receipts are at Cleeng waiting for their answer, the rest not sent yet.
        assert.ok(await waitFor(() => cleeng.posts.size >= 15, 60_000), 'receipts reached Cleeng');
        const atKill = cleeng.posts.size;
        first.child.kill('SIGKILL');
        await first.exited;
        const second = spawnRelay(relayEnv({ RELAY_PORT: port }));
        children.push(second);
        await second.url;
        const results = await Promise.all(sends);
        const ids = batch.map((r) => r.order.purchaseId);
        const { lost, doubled } = deliveryCounts(cleeng, ids);
        const retried = results.filter((r) => r.attempts > 1).length;
        console.log(`# SIGKILL: ${atKill} of 50 at Cleeng when killed; ${retried} receipts retried; lost ${lost.length}, doubled ${doubled.length}`);
        assert.deepEqual(
            results.map((r) => r.status),
            batch.map(() => 200),
        );
        assert.ok(retried > 0, 'the kill made clients retry');
        assert.deepEqual(lost, []);
        assert.deepEqual(doubled, []);
        assert.match(second.out(), /"reconcile":"granted"/, 'the restarted relay settled the posts the killed one left open');
        assert.deepEqual(leaks([first.out(), second.out()], [TOKEN, SECRET, ...emails]), []);
        second.child.kill('SIGTERM');
        assert.equal(await second.exited, 0);
    });

    test('two instances behind a round-robin proxy: 100 receipts, each sent twice at once, client timeouts shorter than Cleeng', async () => {
        cleeng.answerDelayMs = 1_500;
        const common = {
            publisherToken: TOKEN,
            secret: SECRET,
            cleengRokuPaymentUrl: `${cleeng.url}/roku/payment`,
            cleengJsonRpcUrl: `${cleeng.url}/3.0/json-rpc`,
            redisUrl: redis.url,
            port: 0,
            rateLimit: { perIp: 0, perEmail: 0 },
            retryAfterSec: 1,
            inflightWaitMs: 2_000,
            cleengGraceMs: 4_000,
            logSink: () => {},
        };
        const a = await startRelay(common);
        const b = await startRelay(common);
        relays.push(a, b);
        assert.equal(a.store, 'redis');
        const proxy = await startRoundRobinProxy([a.url, b.url]);
        try {
            const batch = Array.from({ length: 100 }, () => tracked());
            const sends = batch.flatMap((r) => [0, 1].map(() => sendLikeTheChannel(`${proxy.url}/v1/roku/receipts`, r, { timeoutMs: 1_000, ceilingMs: 120_000 })));
            const results = await Promise.all(sends);
            const { lost, doubled } = deliveryCounts(
                cleeng,
                batch.map((r) => r.order.purchaseId),
            );
            const timedOut = results.filter((r) => r.statuses.includes(0)).length;
            console.log(`# two instances: ${results.length} sends, ${timedOut} with a client timeout, proxy split ${proxy.handed.join('/')}; lost ${lost.length}, doubled ${doubled.length}`);
            assert.ok(results.every((r) => r.status === 200));
            assert.ok(proxy.handed.every((n) => n > 50), 'both instances served');
            assert.ok(timedOut > 0, 'clients timed out and retried while Cleeng was still answering');
            assert.deepEqual(lost, []);
            assert.deepEqual(doubled, []);
        } finally {
            await proxy.close();
        }
    });

    test('D6 replay: 300 concurrent receipts, Cleeng answering after 1.5 s, upstream timeout 3 s, 64 upstream slots: 0 doubled', async () => {
        cleeng.answerDelayMs = 1_500;
        const relay = await startRelay({
            publisherToken: TOKEN,
            secret: SECRET,
            cleengRokuPaymentUrl: `${cleeng.url}/roku/payment`,
            cleengJsonRpcUrl: `${cleeng.url}/3.0/json-rpc`,
            redisUrl: redis.url,
            port: 0,
            upstreamTimeoutMs: 3_000,
            upstreamConcurrency: 64,
            rateLimit: { perIp: 0, perEmail: 0 },
            retryAfterSec: 1,
            logSink: () => {},
        });
        relays.push(relay);
        const batch = Array.from({ length: 300 }, () => tracked());
        const before = [...cleeng.posts.values()].reduce((s, n) => s + n, 0);
        const results = await Promise.all(batch.map((r) => sendLikeTheChannel(`${relay.url}/v1/roku/receipts`, r, { timeoutMs: 15_000, ceilingMs: 120_000 })));
        const posts = [...cleeng.posts.values()].reduce((s, n) => s + n, 0) - before;
        const busy = results.reduce((s, r) => s + r.statuses.filter((x) => x === 503).length, 0);
        const { lost, doubled } = deliveryCounts(
            cleeng,
            batch.map((r) => r.order.purchaseId),
        );
        console.log(`# D6: 300 receipts → ${posts} posts, ${busy} answers 503 UPSTREAM_BUSY (Retry-After) on the way; lost ${lost.length}, doubled ${doubled.length}`);
        assert.ok(results.every((r) => r.status === 200));
        assert.equal(posts, 300);
        assert.ok(busy > 0, 'the full pool answered 503 instead of timing out');
        assert.deepEqual(lost, []);
        assert.deepEqual(doubled, []);
    });
});
