/**
 * The contract's examples are valid against their schemas, the schemas are strict draft-07 that
 * ajv compiles, and the validators refuse what the contract refuses.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
    createAjv,
    RELAY_ERRORS,
    RELAY_ERROR_CODES,
    errorClass,
    validateReceiptRequest,
    validateReceiptAccepted,
    validateEntitlementCheckRequest,
    validateHealthAnswer,
    validateErrorBody,
    validateChannelConfig,
    schemaValidator,
    SCHEMA_LIST
} from '../../contract/generated';
import { SCHEMA_FILES } from '../../contract/generate';

const contractDir = path.resolve(__dirname, '..', '..', 'contract');
const examplesDir = path.join(contractDir, 'examples');

function readJson(file: string): unknown {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
}

/** examples/<dir>/<schema-name>[.<variant>].json -> the $id of <schema-name>.schema.json. */
function examples(): { file: string; schemaId: string }[] {
    const ids = new Map<string, string>();
    for (const f of SCHEMA_FILES) {
        const s = readJson(path.join(contractDir, f.file)) as { $id: string };
        ids.set(path.basename(f.file, '.schema.json'), s.$id);
    }
    const out: { file: string; schemaId: string }[] = [];
    for (const dir of fs.readdirSync(examplesDir)) {
        for (const name of fs.readdirSync(path.join(examplesDir, dir))) {
            const stem = name.split('.')[0]!;
            const schemaId = ids.get(stem);
            assert.ok(schemaId, `contract/examples/${dir}/${name} names no schema (${stem}.schema.json)`);
            out.push({ file: path.join(examplesDir, dir, name), schemaId });
        }
    }
    return out;
}

describe('contract examples', () => {
    it('every schema compiles in strict mode and every example is valid against its schema', () => {
        const ajv = createAjv();
        for (const s of SCHEMA_LIST) {
            assert.ok(ajv.getSchema(s.$id), `${s.$id} compiles`);
        }
        const list = examples();
        assert.ok(list.length >= 12, `found ${list.length} examples`);
        const covered = new Set(list.map((e) => e.schemaId));
        for (const f of SCHEMA_FILES.filter((f) => f.name !== 'common')) {
            const id = (readJson(path.join(contractDir, f.file)) as { $id: string }).$id;
            assert.ok(covered.has(id), `no example for ${f.file}`);
        }
        for (const { file, schemaId } of list) {
            const v = schemaValidator(schemaId);
            assert.ok(v(readJson(file)), `${path.relative(contractDir, file)}: ${JSON.stringify(v.errors)}`);
        }
    });

    it('error-body examples use codes from relay/errors.json', () => {
        for (const { file } of examples().filter((e) => path.basename(e.file).startsWith('error-body'))) {
            const body = readJson(file) as { error: { code: string; message: string } };
            assert.ok(RELAY_ERROR_CODES.includes(body.error.code as never), `${file}: ${body.error.code}`);
            assert.equal(body.error.message, RELAY_ERRORS[body.error.code as keyof typeof RELAY_ERRORS].message);
        }
    });

    it('the docs show the golden receipt body as it is in contract/examples', () => {
        const golden = JSON.stringify(readJson(path.join(examplesDir, 'relay', 'receipt-request.json')), null, 4);
        for (const doc of ['docs/relay.md', 'docs/cleeng.md']) {
            const text = fs.readFileSync(path.join(contractDir, '..', doc), 'utf8');
            assert.ok(text.includes('```json\n' + golden + '\n```'), `${doc} shows the golden receipt`);
        }
    });

    it('relay/errors.json matches its meta-schema', () => {
        const ajv = createAjv();
        const validate = ajv.compile(readJson(path.join(contractDir, 'relay', 'errors.meta.schema.json')) as object);
        assert.ok(validate(readJson(path.join(contractDir, 'relay', 'errors.json'))), JSON.stringify(validate.errors));
    });
});

describe('contract validators', () => {
    const golden = readJson(path.join(examplesDir, 'relay', 'receipt-request.json')) as Record<string, unknown> & { order: Record<string, unknown> };
    const withOrder = (o: Record<string, unknown>): unknown => ({ ...golden, order: { ...golden.order, ...o } });

    it('accepts the golden receipt and refuses each broken field, naming it', () => {
        assert.deepEqual(validateReceiptRequest(golden), { ok: true, value: golden });
        const cases: [unknown, string][] = [
            [{ ...golden, customerEmail: 'me@tv..co' }, 'customerEmail'],
            [{ ...golden, customerEmail: 'viewer@example..com' }, 'customerEmail'],
            [{ ...golden, customerEmail: 'viewer@.example.com' }, 'customerEmail'],
            [{ ...golden, customerEmail: 'vie\u0007wer@example.com' }, 'customerEmail'],
            [{ ...golden, customerEmail: 'viewer @example.com' }, 'customerEmail'],
            [{ ...golden, offerId: 'S12312312_US' }, 'offerId'],
            [withOrder({ qty: 0 }), 'order.qty'],
            [withOrder({ qty: 1.5 }), 'order.qty'],
            [withOrder({ qty: 1001 }), 'order.qty'],
            [withOrder({ amount: -1 }), 'order.amount'],
            [withOrder({ total: '5.39' }), 'order.total'],
            [withOrder({ purchaseId: '' }), 'order.purchaseId'],
            [withOrder({ purchaseId: ' tx' }), 'order.purchaseId'],
            [withOrder({ purchaseId: 'tx\n1' }), 'order.purchaseId'],
            [withOrder({ purchaseId: 'x'.repeat(1025) }), 'order.purchaseId'],
            [withOrder({ code: 'S123123123-GB' }), 'order.code'],
            [{ ...golden, ipAddress: '300.1.1.1' }, 'ipAddress'],
            [{ ...golden, attestation: { token: '', nonce: 'n' } }, 'attestation.token'],
            [{ customerEmail: golden.customerEmail, offerId: golden.offerId }, 'order'],
            ['not an object', 'body']
        ];
        for (const [body, field] of cases) {
            const r = validateReceiptRequest(body);
            assert.equal(r.ok, false, `accepted ${JSON.stringify(body)}`);
            assert.ok(!r.ok && field in r.fields, `${JSON.stringify(body)} -> ${JSON.stringify(!r.ok && r.fields)} (wanted ${field})`);
        }
        assert.equal(validateReceiptRequest({ ...golden, ipAddress: '2001:db8::1' }).ok, true);
    });

    it('a receipt answer must be the documented shape', () => {
        assert.equal(validateReceiptAccepted({ status: 'queued', purchaseId: 'p', requestId: 'r' }).ok, true);
        assert.equal(validateReceiptAccepted({ ok: false }).ok, false);
        assert.equal(validateReceiptAccepted({}).ok, false);
        assert.equal(validateReceiptAccepted({ message: 'OK' }).ok, false);
        assert.equal(validateReceiptAccepted({ status: 'accepted', purchaseId: 'p', requestId: 'r' }).ok, false);
    });

    it('other records refuse wrong shapes', () => {
        assert.equal(validateEntitlementCheckRequest({ customerEmail: 'viewer@example.com' }).ok, false);
        assert.equal(validateHealthAnswer({ ok: true }).ok, false);
        assert.equal(validateErrorBody({ error: { code: 'lower', message: '' }, requestId: 'r' }).ok, false);
        const config = readJson(path.join(examplesDir, 'channel', 'channel-config.json')) as { cleeng: Record<string, unknown> };
        assert.equal(validateChannelConfig({ ...config, cleeng: { ...config.cleeng, timeoutMs: 500 } }).ok, false);
        assert.equal(validateChannelConfig({ ...config, offers: { overrides: { 'a-b': 'nope' } } }).ok, false);
        assert.equal(validateChannelConfig({ ...config, extra: 1 }).ok, false);
    });

    it('classes: the issue-12 codes, TRANSACTION_NOT_VERIFIED retries, CLEENG_AUTH is configuration, unknown codes retry', () => {
        assert.equal(errorClass('TRANSACTION_NOT_VERIFIED'), 'retry');
        assert.equal(RELAY_ERRORS.TRANSACTION_NOT_VERIFIED.status, 403);
        assert.equal(errorClass('CLEENG_AUTH'), 'configuration');
        assert.equal(errorClass('PURCHASE_OWNED'), 'final');
        assert.equal(RELAY_ERRORS.PURCHASE_OWNED.status, 409);
        assert.equal(RELAY_ERRORS.UPSTREAM_BUSY.status, 503);
        assert.equal(RELAY_ERRORS.STORE_UNAVAILABLE.class, 'retry');
        assert.equal(RELAY_ERRORS.ATTESTATION_REQUIRED.status, 401);
        assert.equal(RELAY_ERRORS.ATTESTATION_INVALID.proof, true);
        assert.equal(RELAY_ERRORS.PROOF_REQUIRED.proof, true);
        assert.equal(errorClass('SOMETHING_NEW'), 'retry');
        assert.equal(errorClass('constructor'), 'retry');
        for (const code of RELAY_ERROR_CODES) {
            const e = RELAY_ERRORS[code];
            if (e.status === 429 || e.status >= 500) {
                assert.ok(e.class === 'retry' || code === 'CLEENG_AUTH', `${code} ${e.status} is ${e.class}`);
            }
        }
    });
});
