/**
 * The generated code agrees with itself across languages: thousands of email addresses and
 * hundreds of offer IDs go through the relay's validators (ajv, compiled from the schema), the
 * TypeScript helpers, and the channel's generated `contract.isValidEmail` / `contract.isOfferId`
 * running in the simulator. Any disagreement fails, naming the inputs.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { buildChannel } from '../../scripts/build';
import { runInSimulator } from '../../scripts/lib/simulator';
import { isOfferId, isValidEmail, MAX_EMAIL_LENGTH, validateEntitlementCheckRequest } from '../../contract/generated';
import { MANIFEST, repoRoot, throwawayChannels } from '../tooling/channels';

const channels = throwawayChannels();

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const EDGE_EMAILS = [
    'viewer@example.com',
    'me@tv..co',
    'viewer@example..com',
    'viewer@.example.com',
    'viewer@example.com.',
    '.viewer@example.com',
    'viewer.@example.com',
    'a..b@example.com',
    'a@b',
    'a@b.c',
    '@example.com',
    'viewer@',
    'viewer@@example.com',
    'vie@wer@example.com',
    'viewer@-example.com',
    'viewer@example-.com',
    'viewer@ex--ample.com',
    'viewer@xn--bcher-kva.example',
    'first.last+tag@example.co.uk',
    "o'neil@example.com",
    'zoë@exämple.de',
    '用户@例子.广告',
    'пользователь@пример.рф',
    '😀@example.com',
    'viewer@😀.example',
    ' viewer@example.com',
    'viewer@example.com ',
    'viewer@example.com\n',
    'S123@example.com\r\n',
    'vie wer@example.com',
    'vie\twer@example.com',
    'vie\u0000wer@example.com',
    'vie\u0007wer@example.com',
    'vie\u001fwer@example.com',
    'vie\u007fwer@example.com',
    'vie\u0085wer@example.com',
    'vie\u00a0wer@example.com',
    'vie\u2028wer@example.com',
    'viewer@exa\u0000mple.com',
    'viewer@example.c\u0001',
    '"quoted"@example.com',
    'a(b)@example.com',
    'a,b@example.com',
    'a:b@example.com',
    'a;b@example.com',
    'a<b>@example.com',
    'a[b]@example.com',
    'a\\b@example.com',
    'viewer@[127.0.0.1]',
    'viewer@127.0.0.1',
    'viewer@exa_mple.com',
    'viewer@exa+mple.com',
    "!#$%&'*+/=?^_`{|}~-@example.com",
    '',
    '@',
    '.',
    'a@.',
    'a@b..',
    'a@b.c.d.e.f.g.h',
    '\ud800@example.com',
    'viewer@example.com\ud83d'
];

function nearLimit(rand: () => number): string[] {
    const out: string[] = [];
    const domain = '@example.com';
    for (let total = MAX_EMAIL_LENGTH - 3; total <= MAX_EMAIL_LENGTH + 3; total++) {
        const n = total - domain.length;
        out.push('a'.repeat(n) + domain);
        out.push('é'.repeat(n) + domain);
        // Astral characters: one code point, two UTF-16 units (the length must count code points).
        out.push('😀'.repeat(n) + domain);
        out.push('😀'.repeat(Math.floor(n / 2)) + 'b'.repeat(n - Math.floor(n / 2)) + domain);
        out.push('x'.repeat(total - 9) + '@yyyy.用用用');
        const parts = [];
        let len = 0;
        while (len < n) {
            const atom = 'ab'.slice(0, 1 + Math.floor(rand() * 2));
            parts.push(atom);
            len += atom.length + 1;
        }
        out.push(parts.join('.').slice(0, n).replace(/\.$/, 'z') + domain);
    }
    out.push('a'.repeat(1000) + domain);
    out.push('😀'.repeat(127) + '@e.co');
    return out;
}

const POOLS = {
    alnum: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
    atext: "!#$%&'*+/=?^_`{|}~-",
    specials: '"(),:;<>[\\] ',
    separators: '.@-',
    unicode: ['é', 'ü', 'ß', 'ø', '用', '户', 'п', 'я', 'ع', 'ה', '😀', '𝔘', '\u0301', '\ufeff', '\u200b'],
    controls: ['\u0000', '\u0001', '\t', '\n', '\u000b', '\f', '\r', '\u001b', '\u001f', '\u007f', '\u0085', '\u00a0', '\u2028', '\u3000']
};

function pick<T>(rand: () => number, list: ArrayLike<T>): T {
    return list[Math.floor(rand() * list.length)]!;
}

function randomChar(rand: () => number): string {
    const r = rand();
    if (r < 0.55) return pick(rand, POOLS.alnum);
    if (r < 0.65) return pick(rand, POOLS.atext);
    if (r < 0.72) return pick(rand, POOLS.separators);
    if (r < 0.85) return pick(rand, POOLS.unicode);
    if (r < 0.93) return pick(rand, POOLS.specials);
    return pick(rand, POOLS.controls);
}

function randomLabel(rand: () => number, max: number): string {
    let s = '';
    const n = 1 + Math.floor(rand() * max);
    for (let i = 0; i < n; i++) {
        s += rand() < 0.85 ? pick(rand, POOLS.alnum) : randomChar(rand);
    }
    return s;
}

/** Mostly plausible shapes with one or two things wrong, and some noise. */
function randomEmail(rand: () => number): string {
    const shape = rand();
    if (shape < 0.15) {
        let s = '';
        const n = Math.floor(rand() * 30);
        for (let i = 0; i < n; i++) s += randomChar(rand);
        return s;
    }
    const atoms = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => randomLabel(rand, 10));
    const labels = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => randomLabel(rand, 8));
    let local = atoms.join(rand() < 0.9 ? '.' : '..');
    let domain = labels.join(rand() < 0.9 ? '.' : '..');
    const r = rand();
    if (r < 0.05) local = '.' + local;
    else if (r < 0.1) domain = '.' + domain;
    else if (r < 0.15) domain = domain + '.';
    else if (r < 0.2) domain = '-' + domain;
    else if (r < 0.25) domain = domain.replace(/\./, '-.');
    const at = rand() < 0.9 ? '@' : pick(rand, ['', '@@', '@a@']);
    return local + at + domain;
}

function emailInputs(): string[] {
    const rand = prng(20261203);
    const set = new Set<string>([...EDGE_EMAILS, ...nearLimit(rand)]);
    while (set.size < 3000) {
        set.add(randomEmail(rand));
    }
    return [...set];
}

function offerInputs(): string[] {
    const rand = prng(10);
    const set = new Set<string>(['S123123123_US', 'P000000000_GB', 'E999999999_DE', 'R123456789_FR', 'A123456789_PL', 'S123123123-US', 'S123123123_us', 'X123123123_US', 'S12312312_US', 'S1231231234_US', 'S123123123_USA', 'S123123123_U', 'S123123123_US\n', ' S123123123_US', 'S123123123_US ', 'S١٢٣١٢٣١٢٣_US', 'S123123123_ÜS', 's123123123_US', '', 'S123123123__US', 'SS123123123_US']);
    while (set.size < 400) {
        let s = rand() < 0.85 ? pick(rand, 'SPERA') : pick(rand, 'XsZé');
        const n = rand() < 0.8 ? 9 : pick(rand, [8, 10]);
        for (let i = 0; i < n; i++) s += rand() < 0.98 ? pick(rand, '0123456789') : pick(rand, 'a٣ ');
        s += rand() < 0.85 ? '_' : pick(rand, ['-', '', '__', ' ']);
        const c = rand() < 0.85 ? 2 : pick(rand, [1, 3]);
        for (let i = 0; i < c; i++) s += rand() < 0.95 ? pick(rand, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') : pick(rand, ['a', '1', 'Ü', '\n']);
        set.add(s);
    }
    return [...set];
}

/** A channel that reads the inputs from pkg:/data and prints one verdict bit per input. */
function agreementChannel(emails: string[], offers: string[]): string {
    const main = `function main() as void
    runList("email", ParseJson(ReadAsciiFile("pkg:/data/emails.json")))
    runList("offer", ParseJson(ReadAsciiFile("pkg:/data/offers.json")))
    print "[agree] done"
end function

function runList(kind as string, list as object) as void
    print "[agree] " + kind + " count " + list.count().toStr()
    line = ""
    start = 0
    for i = 0 to list.count() - 1
        ok = false
        if kind = "email"
            ok = contract.isValidEmail(list[i])
        else
            ok = contract.isOfferId(list[i])
        end if
        if ok
            line = line + "1"
        else
            line = line + "0"
        end if
        if Len(line) = 100
            print "[agree] " + kind + " " + start.toStr() + " " + line
            start = i + 1
            line = ""
        end if
    end for
    if line <> ""
        print "[agree] " + kind + " " + start.toStr() + " " + line
    end if
end function
`;
    return channels.make('contract-agreement', {
        manifest: MANIFEST,
        'bsconfig.json': JSON.stringify({
            rootDir: '.',
            files: ['manifest', 'source/**/*.bs', 'data/*.json'],
            plugins: ['@rokucommunity/bslint'],
            lintConfig: path.join(repoRoot, 'bslint.json')
        }),
        'source/main.bs': main,
        'source/generated/Contract.bs': fs.readFileSync(path.join(repoRoot, 'source', 'generated', 'Contract.bs'), 'utf8'),
        'data/emails.json': JSON.stringify(emails),
        'data/offers.json': JSON.stringify(offers)
    });
}

function verdicts(lines: string[], kind: string, count: number): boolean[] {
    const out: boolean[] = new Array<boolean>(count);
    for (const line of lines) {
        const m = new RegExp(`^\\[agree\\] ${kind} (\\d+) ([01]+)$`).exec(line);
        if (m) {
            [...m[2]!].forEach((b, i) => (out[Number(m[1]) + i] = b === '1'));
        }
    }
    return out;
}

describe('contract agreement: relay (ajv), tooling (TypeScript) and channel (BrightScript in the simulator)', () => {
    const emails = emailInputs();
    const offers = offerInputs();
    let lines: string[] = [];

    before(async () => {
        const dir = agreementChannel(emails, offers);
        const built = await buildChannel({ target: 'prod', rootDir: dir, quiet: true, env: {} });
        const result = await runInSimulator({ app: built.zipPath, timeoutMs: 240000 });
        lines = result.lines;
        assert.ok(lines.includes('[agree] done'), `the channel did not finish: ${result.message}\n${lines.slice(-20).join('\n')}`);
    });

    it('the inputs cover the edge cases: thousands of emails, both verdicts, hundreds of offer IDs', () => {
        assert.ok(emails.length >= 3000, `${emails.length} emails`);
        const accepted = emails.filter((e) => isValidEmail(e)).length;
        assert.ok(accepted > 500 && emails.length - accepted > 500, `${accepted} accepted of ${emails.length}`);
        assert.ok(offers.length >= 400);
        const okOffers = offers.filter((o) => isOfferId(o)).length;
        assert.ok(okOffers > 50 && offers.length - okOffers > 50, `${okOffers} offer IDs accepted of ${offers.length}`);
        for (const e of ['me@tv..co', 'viewer@example..com', 'viewer@.example.com', 'vie\u0007wer@example.com', 'vie wer@example.com']) {
            assert.equal(isValidEmail(e), false, e);
        }
        assert.equal(isValidEmail('用户@例子.广告'), true);
    });

    it('the relay validator (ajv) and the TypeScript helper agree on every email', () => {
        const bad = emails.filter((e) => validateEntitlementCheckRequest({ customerEmail: e, offerId: 'S123123123_US' }).ok !== isValidEmail(e));
        assert.deepEqual(bad.map((e) => JSON.stringify(e)), []);
    });

    it('the channel accepts exactly the emails the relay accepts', () => {
        const channel = verdicts(lines, 'email', emails.length);
        const missing = channel.findIndex((v) => v === undefined);
        assert.equal(missing, -1, `no verdict for input ${missing}`);
        const bad = emails.filter((e, i) => channel[i] !== validateEntitlementCheckRequest({ customerEmail: e, offerId: 'S123123123_US' }).ok);
        assert.deepEqual(bad.map((e) => `${JSON.stringify(e)} (${e.length} units): channel ${channel[emails.indexOf(e)] ? 'accepts' : 'refuses'}`), []);
    });

    it('the channel accepts exactly the offer IDs the relay accepts', () => {
        const channel = verdicts(lines, 'offer', offers.length);
        assert.equal(channel.findIndex((v) => v === undefined), -1);
        const bad = offers.filter((o, i) => channel[i] !== validateEntitlementCheckRequest({ customerEmail: 'viewer@example.com', offerId: o }).ok);
        assert.deepEqual(bad.map((o) => JSON.stringify(o)), []);
        assert.deepEqual(
            offers.filter((o, i) => channel[i] !== isOfferId(o)),
            []
        );
    });
});
