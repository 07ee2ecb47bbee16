/**
 * Support: the log reference of a purchase. Every relay log line about a receipt carries
 * `purchaseRef` (a keyed hash, never the raw purchaseId or email); this prints the one for a
 * purchaseId a viewer reads out from the support screen, so its lines can be found.
 *   RELAY_SECRET=… CLEENG_PUBLISHER_TOKEN=… npx ts-node relay/ref.ts <purchaseId> [roku|android]
 * (the same environment as the relay: the key is derived from RELAY_SECRET).
 */
import { Keys } from './attestation';
import { ConfigError, loadRelayConfigFromEnv } from './config';

const [purchaseId, store = 'roku'] = process.argv.slice(2);
if (!purchaseId || (store !== 'roku' && store !== 'android')) {
    process.stderr.write('usage: relay/ref.ts <purchaseId> [roku|android]\n');
    process.exit(2);
}
try {
    const c = loadRelayConfigFromEnv(process.env);
    process.stdout.write(`${new Keys(c.secret, c.checkTokenTtlSec).purchaseRef(store, purchaseId)}\n`);
} catch (e) {
    process.stderr.write(`${e instanceof ConfigError ? e.problems.join('; ') : 'failed'}\n`);
    process.exit(2);
}
