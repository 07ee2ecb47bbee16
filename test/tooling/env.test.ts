/**
 * The environment loader: a copied .env.example (every name, empty values) behaves like no file,
 * and a build from it succeeds with the defaults.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadEnv } from '../../scripts/lib/env';
import { loadEnv as buildEnv } from '../../scripts/build';
import { channelConfigFromEnv } from '../../scripts/lib/channel-config';
import { repoRoot, throwawayChannels } from './channels';

const channels = throwawayChannels();
const example = fs.readFileSync(path.join(repoRoot, '.env.example'), 'utf8');

describe('env loader', () => {
    it('treats every empty value of a copied .env.example as not set', () => {
        const dir = channels.make('env-example', { '.env': example });
        const { env, file } = loadEnv({ cwd: dir, env: {} });
        assert.equal(file, path.join(dir, '.env'));
        assert.deepEqual(env, {});
        assert.ok(/^RELAY_URL=$/m.test(example) && /^CLEENG_TIMEOUT_MS=$/m.test(example), '.env.example has the empty build variables');
    });

    it('keeps set values from the file, lets real variables win, and drops empty real ones', () => {
        const dir = channels.make('env-values', { '.env': 'RELAY_URL=https://relay.example.com\nROKU_HOST=10.0.0.2\nCHANNEL_ENV=\n' });
        const { env } = loadEnv({ cwd: dir, env: { ROKU_HOST: '10.0.0.9', CLEENG_MODE: '' } });
        assert.deepEqual(env, { RELAY_URL: 'https://relay.example.com', ROKU_HOST: '10.0.0.9' });
    });

    it('the build reads a copied .env.example as defaults: local relay mode, 10 s timeout', () => {
        const dir = channels.make('env-build', { '.env': example });
        const saved = { ...process.env };
        try {
            for (const k of Object.keys(process.env)) {
                if (/^(CHANNEL_ENV|CLEENG_|RELAY_|OFFER_OVERRIDES)/.test(k)) {
                    delete process.env[k];
                }
            }
            const config = channelConfigFromEnv(buildEnv(dir), 'prod');
            assert.equal(config.environment, 'local');
            assert.equal(config.cleeng.mode, 'relay');
            assert.equal(config.cleeng.relayUrl, 'http://127.0.0.1:8787');
            assert.equal(config.cleeng.timeoutMs, 10000);
        } finally {
            process.env = saved;
        }
    });

    it('the channel config also treats empty variables passed directly as not set', () => {
        const config = channelConfigFromEnv({ CHANNEL_ENV: '', CLEENG_MODE: '', RELAY_URL: '', CLEENG_TIMEOUT_MS: '', OFFER_OVERRIDES: '' }, 'prod');
        assert.equal(config.cleeng.relayUrl, 'http://127.0.0.1:8787');
        assert.equal(config.cleeng.timeoutMs, 10000);
        assert.throws(() => channelConfigFromEnv({ CLEENG_TIMEOUT_MS: '500' }, 'prod'), /between 1000 and 120000/);
        assert.throws(() => channelConfigFromEnv({ OFFER_OVERRIDES: '{"a-b":"S1_US"}' }, 'prod'), /not a Cleeng offer ID/);
    });
});
