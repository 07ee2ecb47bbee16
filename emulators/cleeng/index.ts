export { startCleengEmulator, parseFault, parseGrantDelay, DEFAULT_EMULATOR_OFFERS, DEFAULT_EMULATOR_PUBLISHER_TOKEN, MAX_GRANT_DELAY_MS } from './emulator';
export type { CleengEmulator, CleengEmulatorOptions, EmulatorFault, RecordedRequest, EmulatorPurchase } from './emulator';
