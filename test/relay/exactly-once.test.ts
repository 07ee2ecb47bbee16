import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRelay } from '../../relay';
import { deliveryCounts, startCleengDoubleProcess } from './cleeng-double';
import { SendResult, sendLikeTheChannel, startRoundRobinProxy } from './delivery-harness';
import { leaks, onRedisWithCleeng, receipt, spawnRelay, waitFor } from './helpers';

// Exactly once, with clients retrying as the channel does: every receipt reaches Cleeng once
// (0 lost, 0 doubled) when an instance is SIGKILLed mid-batch and restarted, with two instances
// behind a round-robin proxy, and with a full upstream pool (the D6 replay).

const TOKEN = 'exactly-once-publisher-token-a1b2c3';
const SECRET = 'exactly-once-relay-secret-0123456789abcdef';

/** Print the row, then: every send ended in 200, and every receipt of `batch` reached Cleeng exactly once. */
function assertExactlyOnce(row: string, results: SendResult[], posts: Map<string, number>, batch: ReturnType<typeof receipt>[]): void {
    const { lost, doubled } = deliveryCounts(
        { posts },
        batch.map((r) => r.order.purchaseId),
    );
    console.log(`# ${row}; lost ${lost.length}, doubled ${doubled.length}`);
    assert.deepEqual(
        results.map((r) => r.status),
        results.map(() => 200),
    );
    assert.deepEqual(lost, []);
    assert.deepEqual(doubled, []);
}

describe('exactly once on Redis', () => {
    const f = onRedisWithCleeng(TOKEN, SECRET);

    /** The relay's environment; `cleengUrl` defaults to the in-process stand-in. */
    const relayEnv = (over: Record<string, string> = {}, cleengUrl = f.cleeng.url): Record<string, string> => ({
        CLEENG_PUBLISHER_TOKEN: TOKEN,
        RELAY_SECRET: SECRET,
        CLEENG_ROKU_PAYMENT_URL: `${cleengUrl}/roku/payment`,
        CLEENG_JSONRPC_URL: `${cleengUrl}/3.0/json-rpc`,
        REDIS_URL: f.redis.url,
        RELAY_PORT: '0',
        RELAY_RATE_LIMIT_IP: '0',
        RELAY_RATE_LIMIT_EMAIL: '0',
        RELAY_RETRY_AFTER_S: '1',
        RELAY_INFLIGHT_WAIT_MS: '2000',
        RELAY_CLEENG_GRACE_MS: '4000',
        ...over,
    });
    const started = (env: Record<string, string>) => {
        const p = spawnRelay(env);
        f.processes.push(p);
        return p;
    };

    test('one instance SIGKILLed mid-batch and restarted: 50 receipts, each posted to Cleeng exactly once', async () => {
        f.cleeng.answerDelayMs = 3_000;
        const first = started(relayEnv());
        const url = await first.listening();
        const port = new URL(url).port;
        const batch = Array.from({ length: 50 }, () => f.tracked());
        const sends = batch.map(async (r, i) => {
            await sleep(i * 20);
            return sendLikeTheChannel(`${url}/v1/roku/receipts`, r, { timeoutMs: 8_000, ceilingMs: 150_000 });
        });
        // Mid-batch: some receipts are at Cleeng waiting for their answer, the rest not sent yet.
        assert.ok(await waitFor(() => f.cleeng.posts.size >= 15, 60_000), 'receipts reached Cleeng');
        const atKill = f.cleeng.posts.size;
        first.child.kill('SIGKILL');
        await first.exited;
        const second = started(relayEnv({ RELAY_PORT: port }));
        await second.listening();
        const results = await Promise.all(sends);
        const retried = results.filter((r) => r.attempts > 1).length;
        assertExactlyOnce(`SIGKILL: ${atKill} of 50 at Cleeng when killed; ${retried} receipts retried`, results, f.cleeng.posts, batch);
        assert.ok(retried > 0, 'the kill made clients retry');
        second.child.kill('SIGTERM');
        assert.equal(await second.exited, 0);
        // Read once it exited: its log is written asynchronously and flushed at exit.
        assert.match(second.out(), /"reconcile":"granted"/, 'the restarted relay settled the posts the killed one left open');
        assert.deepEqual(leaks([first.out(), second.out()], [TOKEN, SECRET, ...f.emails]), []);
    });

    test('two instances behind a round-robin proxy: 100 receipts, each sent twice at once, client timeouts shorter than Cleeng', async () => {
        // The clients' first timeout (1 s) is shorter than Cleeng's answer (1.5 s); after each client
        // timeout a client waits twice as long, as a busy machine can take over a second even to
        // answer from the record.
        f.cleeng.answerDelayMs = 1_500;
        const common = f.relayConfig({ retryAfterSec: 1, inflightWaitMs: 2_000, cleengGraceMs: 4_000 });
        const a = await startRelay(common);
        const b = await startRelay(common);
        f.relays.push(a, b);
        assert.equal(a.store, 'redis');
        const proxy = await startRoundRobinProxy([a.url, b.url]);
        try {
            const batch = Array.from({ length: 100 }, () => f.tracked());
            const sends = batch.flatMap((r) => [0, 1].map(() => sendLikeTheChannel(`${proxy.url}/v1/roku/receipts`, r, { timeoutMs: 1_000, maxTimeoutMs: 16_000, ceilingMs: 180_000 })));
            const results = await Promise.all(sends);
            const timedOut = results.filter((r) => r.statuses.includes(0)).length;
            assertExactlyOnce(`two instances: ${results.length} sends, ${timedOut} with a client timeout, proxy split ${proxy.handed.join('/')}`, results, f.cleeng.posts, batch);
            assert.ok(proxy.handed.every((n) => n > 50), 'both instances served');
            assert.ok(timedOut > 0, 'clients timed out and retried while Cleeng was still answering');
        } finally {
            await proxy.close();
        }
    });

    test('D6 replay: 300 concurrent receipts, Cleeng answering after 1.5 s, upstream timeout 3 s, 64 upstream slots: 0 doubled', async () => {
        // The relay and Cleeng each in a process of their own, as in production: the relay's 3 s
        // count only its own attempt, not the clients' or Cleeng's event loop (on one event loop a
        // busy machine made Cleeng's 1.5 s answer late on the relay's clock, so it timed out and
        // posted again).
        const cleeng = await startCleengDoubleProcess({ publisherToken: TOKEN, answerDelayMs: 1_500 });
        try {
            const relay = started(relayEnv({ RELAY_UPSTREAM_TIMEOUT_MS: '3000', RELAY_UPSTREAM_CONCURRENCY: '64' }, cleeng.url));
            const url = await relay.listening();
            const batch = Array.from({ length: 300 }, () => f.tracked());
            const results = await Promise.all(batch.map((r) => sendLikeTheChannel(`${url}/v1/roku/receipts`, r, { timeoutMs: 15_000, ceilingMs: 240_000 })));
            const posts = await cleeng.posts();
            const total = [...posts.values()].reduce((s, n) => s + n, 0);
            const busy = results.reduce((s, r) => s + r.statuses.filter((x) => x === 503).length, 0);
            const clientTimeouts = results.reduce((s, r) => s + r.statuses.filter((x) => x === 0).length, 0);
            assertExactlyOnce(`D6: 300 receipts → ${total} posts, ${busy} answers 503 UPSTREAM_BUSY (Retry-After) on the way, ${clientTimeouts} client timeouts`, results, posts, batch);
            assert.equal(total, 300);
            assert.ok(busy > 0, 'the full pool answered 503 instead of timing out');
            relay.child.kill('SIGTERM');
            assert.equal(await relay.exited, 0);
            assert.doesNotMatch(relay.out(), /"reason":"timeout"/, 'no attempt timed out');
            assert.deepEqual(leaks([relay.out()], [TOKEN, SECRET, ...f.emails]), []);
        } finally {
            await cleeng.close();
        }
    });
});
