export { startFakeRoku, type FakeRoku, type FakeRokuOptions, type FakeRokuPorts, type InstalledApp } from './fake-roku';
export { simulatorRunner, simulatorWorkarounds, type Runner } from './runner';
export { signPackage, verifyPackage, readPackage, devIdFor } from './pkg';
export { CONSOLE_IN_USE } from './console-server';
export { DIGEST_REALM, DIGEST_USER } from './digest';
