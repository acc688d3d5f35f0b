import { startPayguard } from './infrastructure/bootstrap.js';

const running = await startPayguard().catch((error: Error) => {
  console.error(`Payguard could not start: ${error.message}`);
  process.exit(1);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void running.close().then(() => process.exit(0));
  });
}
