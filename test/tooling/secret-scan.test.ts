import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectSecretsFromEnv, scanForSecrets } from '../../scripts/lib/secret-scan';

const TOKEN = 'pub_9f8e7d6c5b4a3921x';
const secrets = [{ label: 'CLEENG_PUBLISHER_TOKEN', value: TOKEN }];

const clean = [
    { name: 'manifest', data: Buffer.from('title=Cleeng Purchase\nmajor_version=1\n') },
    { name: 'source/main.brs', data: Buffer.from('sub main()\n  relayUrl = "https://relay.example.com"\nend sub\n') },
    { name: 'images/icon.png', data: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3, 255]) },
];

describe('scanForSecrets', () => {
    test('a clean set of files passes', () => {
        assert.deepEqual(scanForSecrets(clean, secrets), []);
    });

    test('a planted publisher token is caught, naming the file', () => {
        const files = [...clean, { name: 'source/config.brs', data: Buffer.from(`m.token = "${TOKEN}"\n`) }];
        assert.deepEqual(scanForSecrets(files, secrets), [{ label: 'CLEENG_PUBLISHER_TOKEN', file: 'source/config.brs', form: 'raw' }]);
    });

    test('base64 forms are caught at every alignment, standard and URL-safe', () => {
        for (const prefix of ['', 'a', 'ab', 'abc']) {
            const b64 = Buffer.from(`${prefix}${TOKEN}"}`).toString('base64');
            const found = scanForSecrets([{ name: 'blob.json', data: Buffer.from(`{"x":"${b64}"}`) }], secrets);
            assert.equal(found.length, 1, `prefix ${JSON.stringify(prefix)}`);
            assert.equal(found[0]!.form, 'base64');
        }
        const weird = [{ label: 'ROKU_PASSWORD', value: 'p>?>?>?>~~~~ü' }];
        const urlSafe = Buffer.from(`x${weird[0]!.value}`).toString('base64url');
        const found = scanForSecrets([{ name: 'u.txt', data: Buffer.from(urlSafe) }], weird);
        assert.deepEqual(found.map((f) => f.form), ['base64url']);
    });

    test('URI-encoded forms are caught (upper- and lower-case escapes, + for space)', () => {
        const s = [{ label: 'ROKU_SIGNING_PASSWORD', value: 'sign me/now&then=1' }];
        for (const text of [encodeURIComponent(s[0]!.value), encodeURIComponent(s[0]!.value).toLowerCase().replace(/%20/g, '+')]) {
            const found = scanForSecrets([{ name: 'q.txt', data: Buffer.from(`?p=${text}`) }], s);
            assert.equal(found.length, 1, text);
            assert.equal(found[0]!.form, 'uri');
        }
    });

    test('secrets shorter than 8 characters are ignored', () => {
        const files = [{ name: 'a.txt', data: Buffer.from('password is hunter2') }];
        assert.deepEqual(scanForSecrets(files, [{ label: 'ROKU_PASSWORD', value: 'hunter2' }]), []);
    });

    test('reports each secret once per file, across several files', () => {
        const files = [
            { name: 'a', data: Buffer.from(`${TOKEN} ${TOKEN} ${Buffer.from(TOKEN).toString('base64')}`) },
            { name: 'b', data: Buffer.from(`key=${'rk_live_0123456789'}`) },
        ];
        const found = scanForSecrets(files, [...secrets, { label: 'ROKU_API_KEY', value: 'rk_live_0123456789' }]);
        assert.deepEqual(
            found.map((f) => `${f.label}@${f.file}`),
            ['CLEENG_PUBLISHER_TOKEN@a', 'ROKU_API_KEY@b'],
        );
    });
});

describe('collectSecretsFromEnv', () => {
    test('returns the configured secrets by name, skipping unset and empty ones and other variables', () => {
        const got = collectSecretsFromEnv({
            CLEENG_PUBLISHER_TOKEN: TOKEN,
            ROKU_PASSWORD: 'devpass123',
            ROKU_DEV_PASSWORD: '',
            ROKU_SIGNING_PASSWORD: 'signing-pass',
            ROKU_PARTNER_API_KEY: 'partner-key-123',
            ROKU_API_KEY: 'api-key-4567',
            HOME: '/root',
        });
        assert.deepEqual(
            got.map((s) => s.label),
            ['CLEENG_PUBLISHER_TOKEN', 'ROKU_PASSWORD', 'ROKU_SIGNING_PASSWORD', 'ROKU_PARTNER_API_KEY', 'ROKU_API_KEY'],
        );
        assert.equal(got[0]!.value, TOKEN);
        assert.deepEqual(collectSecretsFromEnv({}), []);
    });
});
