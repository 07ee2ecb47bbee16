export { startCleengEmulator, parseFault, parseGrantDelay, DEFAULT_EMULATOR_OFFERS, DEFAULT_EMULATOR_PUBLISHER_TOKEN, MAX_GRANT_DELAY_MS } from './emulator';
export type { CleengEmulator, CleengEmulatorOptions, EmulatorFault, RecordedRequest, EmulatorPurchase, GrantDelay } from './emulator';
export { CLEENG_CONTRACT_DIR, RPC, RPC_ERRORS, schemas as cleengSchemas } from './contract';
export type { RokuPaymentRequest, AndroidPaymentRequest, GetAccessStatusResult } from './contract';
