import { MemoryEventStore } from '../../src/infrastructure/event-store/memory.event-store.js';
import { describeEventStoreContract } from './event-store.contract.js';

describeEventStoreContract('MemoryEventStore', async () => new MemoryEventStore());
