import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadRelayConfigFromEnv, CLEENG_DEFAULT_URLS } from '../../relay';
import { FixedWindowLimiter, BoundedTtlMap } from '../../relay/limits';
import { backoffDelay, withRetry } from '../../relay/upstream';
import { createLogger } from '../../relay/log';
import { validateReceiptRequest, offerIdToRokuProductCode, toCleengPayment } from '../../relay/contract';

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
            RELAY_TRUST_PROXY: 'true',
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
        assert.equal(c.trustProxy, true);
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
    test('fixed-window limiter counts per key and resets after the window', () => {
        const l = new FixedWindowLimiter(2, 1000);
        assert.equal(l.hit('a', 0).allowed, true);
        assert.equal(l.hit('a', 10).allowed, true);
        const third = l.hit('a', 20);
        assert.equal(third.allowed, false);
        assert.equal(third.retryAfterSec, 1);
        assert.equal(l.hit('b', 20).allowed, true);
        assert.equal(l.hit('a', 1000).allowed, true);
        assert.equal(new FixedWindowLimiter(0, 1000).hit('x').allowed, true, '0 disables');
    });

    test('limiter and TTL map stay bounded', () => {
        const l = new FixedWindowLimiter(1, 1000, 10);
        for (let i = 0; i < 100; i++) {
            l.hit(`k${i}`, 0);
        }
        assert.ok(l.size <= 10);
        const m = new BoundedTtlMap<string, number>(3, 100);
        for (let i = 0; i < 10; i++) {
            m.set(`k${i}`, i, 0);
        }
        assert.equal(m.size, 3);
        assert.equal(m.get('k9', 50), 9);
        assert.equal(m.get('k9', 100), undefined, 'expired');
        assert.equal(m.get('k0', 0), undefined, 'evicted');
    });

    test('backoff grows exponentially and is capped', () => {
        const p = { attempts: 5, baseDelayMs: 100, maxDelayMs: 300 };
        assert.equal(backoffDelay(p, 1, () => 1), 100);
        assert.equal(backoffDelay(p, 2, () => 1), 200);
        assert.equal(backoffDelay(p, 3, () => 1), 300);
        assert.equal(backoffDelay(p, 9, () => 1), 300);
        assert.equal(backoffDelay(p, 1, () => 0), 50);
    });

    test('withRetry stops at the attempt bound and reports the last reason', async () => {
        let n = 0;
        const r = await withRetry({ attempts: 3, baseDelayMs: 1, maxDelayMs: 2 }, undefined, async () => {
            n++;
            return { done: false, reason: `r${n}` };
        });
        assert.deepEqual(r, { ok: false, reason: 'r3', attempts: 3 });
        const thrown = await withRetry({ attempts: 2, baseDelayMs: 1, maxDelayMs: 1 }, undefined, async () => {
            throw new Error('ECONNREFUSED');
        });
        assert.deepEqual(thrown, { ok: false, reason: 'network', attempts: 2 });
    });

    test('the logger writes JSON lines and scrubs configured secrets and email addresses', () => {
        const lines: string[] = [];
        const log = createLogger((l) => lines.push(l), ['super-secret-token']);
        log.log('info', 'x', { note: 'super-secret-token for viewer@example.com' });
        const o = JSON.parse(lines[0]!);
        assert.equal(o.level, 'info');
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
