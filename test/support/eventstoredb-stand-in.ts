/**
 * An in-process stand-in for EventStoreDB's gRPC Streams protocol, for the EventStoreDB adapter's
 * tests (the event store and the leader lease). It is NOT EventStoreDB: see the comment of
 * test/int/eventstoredb.event-store.spec.ts for what it models and what it cannot prove.
 */
import { randomUUID } from 'node:crypto';
import codePb from '@eventstore/db-client/generated/code_pb.js';
import serverFeaturesGrpcPb from '@eventstore/db-client/generated/serverfeatures_grpc_pb.js';
import serverFeaturesPb from '@eventstore/db-client/generated/serverfeatures_pb.js';
import sharedPb from '@eventstore/db-client/generated/shared_pb.js';
import statusPb from '@eventstore/db-client/generated/status_pb.js';
import streamsGrpcPb from '@eventstore/db-client/generated/streams_grpc_pb.js';
import streamsPb from '@eventstore/db-client/generated/streams_pb.js';
// The client's own dependencies (the stand-in speaks its wire format).
import grpc from '@grpc/grpc-js';
import anyPb from 'google-protobuf/google/protobuf/any_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';

const { ReadReq, ReadResp, AppendReq, AppendResp, BatchAppendReq, BatchAppendResp } = streamsPb;
const { StreamsService } = streamsGrpcPb;
const { Empty, StreamIdentifier, UUID, AllStreamPosition, WrongExpectedVersion } = sharedPb;
type ReadRequest = InstanceType<typeof ReadReq>;
type ReadResponse = InstanceType<typeof ReadResp>;
type AppendRequest = InstanceType<typeof AppendReq>;
type AppendResponse = InstanceType<typeof AppendResp>;
type BatchAppendRequest = InstanceType<typeof BatchAppendReq>;
type BatchAppendResponse = InstanceType<typeof BatchAppendResp>;

type EndOfCatchUp = 'caught-up' | 'checkpoint' | 'nothing';
/** What an append expects of its stream: a revision, -1 (no stream), 'any' or 'exists'. */
type Expectation = number | 'any' | 'exists';
interface Proposed {
  readonly id: string;
  readonly type: string;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
}
type Outcome = { readonly ok: true; readonly revision: number; readonly transaction: number } | { readonly ok: false; readonly current: number };

interface LogRecord {
  readonly stream: string;
  readonly revision: number;
  readonly id: string;
  readonly type: string;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
  /** Log position of the record itself: EventStoreDB reports it as the event's commit position. */
  readonly position: number;
  /** Position of the append's first record: EventStoreDB reports it as every one of its events' prepare position. */
  readonly transaction: number;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A single EventStoreDB node as far as this adapter uses it: Streams.Read (stream reads; unfiltered
 * `$all` reads forwards and backwards; `$all` subscriptions, filtered or not, from the end, the
 * start or a position, catching up and then live), Streams.BatchAppend and Streams.Append, and
 * ServerFeatures (which says whether BatchAppend is there). Everything else answers UNIMPLEMENTED
 * (a filtered `$all` read too: EventStoreDB serves one, but the adapter no longer sends it). One
 * log, in memory; positions are byte-like offsets with gaps, starting past some records of the
 * server's own.
 *
 * A catch-up subscription gets what EventStoreDB's filtered `$all` subscription sends (its
 * Enumerators.AllSubscriptionFiltered): the confirmation, then every matching event AFTER its
 * position (the server reads the event at the position and continues from the next one; a
 * read's start is inclusive), then, as it turns live, the caught-up message (servers since
 * 23.10) or, with `endOfCatchUp: 'checkpoint'`, a checkpoint at the newest record instead
 * (servers before 23.10 sent a filtered subscription one then, and no caught-up message). Its
 * checkpoints while catching up (every `checkpointInterval x maxSearchWindow` records) are not.
 */
export class EventStoreStandIn {
  private readonly log: LogRecord[] = [];
  private readonly streams = new Map<string, LogRecord[]>();
  private readonly live = new Set<{ readonly regex: RegExp | null; readonly call: grpc.ServerWritableStream<ReadRequest, ReadResponse> }>();
  private next = 4_096;

  private constructor(
    private readonly server: grpc.Server,
    readonly url: string,
    private readonly endOfCatchUp: EndOfCatchUp,
  ) {}

  /**
   * `batchAppend` (default true): advertise BatchAppend through ServerFeatures, as servers since
   * 21.10 do, so the client appends through it; false: answer ServerFeatures UNIMPLEMENTED, as
   * older servers do, so the client falls back to Append. `endOfCatchUp`: how a subscription's
   * catch-up ends: 'caught-up' (default; 23.10 and later), 'checkpoint' (older servers), or
   * 'nothing' (no server does that; to show the adapter does not wait for ever).
   */
  static async start(options: { batchAppend?: boolean; endOfCatchUp?: EndOfCatchUp } = {}): Promise<EventStoreStandIn> {
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    const standIn = new EventStoreStandIn(server, `esdb://127.0.0.1:${port}?tls=false`, options.endOfCatchUp ?? 'caught-up');
    server.addService(StreamsService, {
      read: (call: grpc.ServerWritableStream<ReadRequest, ReadResponse>) => standIn.read(call),
      append: (call: grpc.ServerReadableStream<AppendRequest, AppendResponse>, callback: grpc.sendUnaryData<AppendResponse>) =>
        standIn.append(call, callback),
      batchAppend: (call: grpc.ServerDuplexStream<BatchAppendRequest, BatchAppendResponse>) => standIn.batchAppend(call),
    });
    if (options.batchAppend ?? true) {
      server.addService(serverFeaturesGrpcPb.ServerFeaturesService, {
        getSupportedMethods: (_: unknown, callback: grpc.sendUnaryData<InstanceType<typeof serverFeaturesPb.SupportedMethods>>) => {
          const method = new serverFeaturesPb.SupportedMethod();
          method.setServiceName('event_store.client.streams.streams');
          method.setMethodName('batchappend');
          const supported = new serverFeaturesPb.SupportedMethods();
          supported.setMethodsList([method]);
          supported.setEventStoreServerVersion('24.10.0-stand-in');
          callback(null, supported);
        },
      });
    }
    // Records of the server's own, before anything Payguard writes.
    standIn.write('$settings', [{ type: '$settings', data: {} }]);
    standIn.write('$stats-127.0.0.1:2113', [{ type: '$statsCollected', data: {} }]);
    return standIn;
  }

  async stop(): Promise<void> {
    this.server.forceShutdown();
  }

  /** Writes directly, as another application or the server itself would. */
  write(stream: string, events: readonly { type: string; data: unknown; metadata?: unknown }[]): void {
    this.commit(
      stream,
      events.map(({ type, data, metadata }) => ({
        id: randomUUID(),
        type,
        data: Buffer.from(JSON.stringify(data)),
        metadata: Buffer.from(metadata === undefined ? '' : JSON.stringify(metadata)),
      })),
    );
  }

  /** Ends every live subscription, as a server restart or a dropped connection would. */
  dropSubscriptions(): number {
    const dropped = this.live.size;
    for (const subscriber of [...this.live]) {
      this.live.delete(subscriber);
      subscriber.call.end();
    }
    return dropped;
  }

  get liveSubscriptions(): number {
    return this.live.size;
  }

  private read(call: grpc.ServerWritableStream<ReadRequest, ReadResponse>): void {
    const options = call.request.getOptions();
    if (!options) {
      call.destroy(grpcError(grpc.status.INVALID_ARGUMENT, 'no options'));
      return;
    }
    const backwards = options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS;
    const count = options.hasCount() ? Number(options.getCount()) : Number.POSITIVE_INFINITY;

    const streamOptions = options.getStream();
    if (streamOptions) {
      const name = text(streamOptions.getStreamIdentifier()!.getStreamName_asU8());
      const events = this.visible(name);
      if (!events) {
        const notFound = new ReadResp.StreamNotFound();
        notFound.setStreamIdentifier(streamOptions.getStreamIdentifier());
        call.write(new ReadResp().setStreamNotFound(notFound));
        call.end();
        return;
      }
      const last = events.length === 0 ? -1 : events[events.length - 1].revision;
      const from = streamOptions.hasRevision() ? Number(streamOptions.getRevision()) : streamOptions.hasEnd() ? last : backwards ? last : 0;
      const selected = backwards ? events.filter((e) => e.revision <= from).reverse() : events.filter((e) => e.revision >= from);
      for (const record of selected.slice(0, count)) call.write(readEvent(record, false));
      call.end();
      return;
    }

    const all = options.getAll()!;
    const regex = options.hasFilter() ? new RegExp(options.getFilter()!.getStreamIdentifier()!.getRegex()) : null;
    const position = all.hasPosition() ? Number(all.getPosition()!.getCommitPosition()) : null;
    if (position !== null && !this.log.some((r) => r.position === position)) {
      // EventStoreDB answers InvalidPosition for a position that is no record's start.
      call.destroy(grpcError(grpc.status.INVALID_ARGUMENT, `invalid $all position ${position}`));
      return;
    }
    if (options.hasSubscription()) {
      call.write(new ReadResp().setConfirmation(new ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID())));
      if (!all.hasEnd()) {
        // Catching up, then live in the same turn: nothing can commit in between.
        const after = position ?? 0;
        for (const record of this.log) if (record.position > after && (!regex || regex.test(record.stream))) call.write(readEvent(record, true));
        if (this.endOfCatchUp !== 'nothing') call.write(this.caughtUp());
      }
      const subscriber = { regex, call };
      this.live.add(subscriber);
      call.on('cancelled', () => this.live.delete(subscriber));
      return;
    }
    if (regex) {
      call.destroy(grpcError(grpc.status.UNIMPLEMENTED, 'the stand-in serves no filtered $all reads'));
      return;
    }
    const selected = backwards
      ? this.log.filter((r) => position === null || r.position < position).reverse() // backwards: exclusive
      : this.log.filter((r) => !all.hasEnd() && (position === null || r.position >= position)); // forwards: inclusive
    for (const record of selected.slice(0, count)) call.write(readEvent(record, true));
    call.end();
  }

  /** Streams.Append: options, then the events; one answer. */
  private append(call: grpc.ServerReadableStream<AppendRequest, AppendResponse>, callback: grpc.sendUnaryData<AppendResponse>): void {
    const messages: AppendRequest[] = [];
    call.on('data', (message: AppendRequest) => messages.push(message));
    call.on('end', () => {
      try {
        const options = messages[0]?.getOptions();
        if (!options) throw grpcError(grpc.status.INVALID_ARGUMENT, 'no options');
        const Case = AppendReq.Options.ExpectedStreamRevisionCase;
        const expectation: Expectation = {
          [Case.REVISION]: Number(options.getRevision()),
          [Case.NO_STREAM]: -1,
          [Case.ANY]: 'any' as const,
          [Case.STREAM_EXISTS]: 'exists' as const,
          [Case.EXPECTED_STREAM_REVISION_NOT_SET]: 'any' as const,
        }[options.getExpectedStreamRevisionCase()];
        const proposed = messages.slice(1).map((m) => proposedOf(m.getProposedMessage()!));
        const outcome = this.tryAppend(text(options.getStreamIdentifier()!.getStreamName_asU8()), expectation, proposed);
        const response = new AppendResp();
        if (outcome.ok) {
          const ok = new AppendResp.Success();
          ok.setCurrentRevision(String(outcome.revision));
          const at = String(outcome.transaction);
          ok.setPosition(new AppendResp.Position().setCommitPosition(at).setPreparePosition(at));
          response.setSuccess(ok);
        } else {
          const wrong = new AppendResp.WrongExpectedVersion();
          if (outcome.current >= 0) wrong.setCurrentRevision(String(outcome.current));
          else wrong.setCurrentNoStream(new Empty());
          if (typeof expectation === 'number' && expectation >= 0) wrong.setExpectedRevision(String(expectation));
          else if (expectation === -1) wrong.setExpectedNoStream(new Empty());
          else wrong.setExpectedStreamExists(new Empty());
          response.setWrongExpectedVersion(wrong);
        }
        callback(null, response);
      } catch (error) {
        callback(error as grpc.ServiceError);
      }
    });
  }

  /** Streams.BatchAppend: requests carry a correlation id, options first, `isFinal` last; one answer per batch. */
  private batchAppend(call: grpc.ServerDuplexStream<BatchAppendRequest, BatchAppendResponse>): void {
    const pending = new Map<string, { options?: InstanceType<typeof BatchAppendReq.Options>; proposed: Proposed[] }>();
    call.on('data', (request: BatchAppendRequest) => {
      try {
        const correlation = request.getCorrelationId()!;
        const key = correlation.getString();
        const batch = pending.get(key) ?? { proposed: [] };
        pending.set(key, batch);
        batch.options ??= request.getOptions();
        batch.proposed.push(...request.getProposedMessagesList().map(proposedOf));
        if (!request.getIsFinal()) return;
        pending.delete(key);
        const options = batch.options!;
        const Case = BatchAppendReq.Options.ExpectedStreamPositionCase;
        const expectation: Expectation = {
          [Case.STREAM_POSITION]: Number(options.getStreamPosition()),
          [Case.NO_STREAM]: -1,
          [Case.ANY]: 'any' as const,
          [Case.STREAM_EXISTS]: 'exists' as const,
          [Case.EXPECTED_STREAM_POSITION_NOT_SET]: 'any' as const,
        }[options.getExpectedStreamPositionCase()];
        const outcome = this.tryAppend(text(options.getStreamIdentifier()!.getStreamName_asU8()), expectation, batch.proposed);
        const response = new BatchAppendResp();
        response.setCorrelationId(correlation);
        response.setStreamIdentifier(options.getStreamIdentifier());
        if (outcome.ok) {
          const at = new AllStreamPosition().setCommitPosition(String(outcome.transaction)).setPreparePosition(String(outcome.transaction));
          const ok = new BatchAppendResp.Success();
          ok.setCurrentRevision(String(outcome.revision));
          ok.setPosition(at);
          response.setSuccess(ok);
        } else {
          const wrong = new WrongExpectedVersion();
          if (outcome.current >= 0) wrong.setCurrentStreamRevision(String(outcome.current));
          else wrong.setCurrentNoStream(new emptyPb.Empty());
          if (typeof expectation === 'number' && expectation >= 0) wrong.setExpectedStreamPosition(String(expectation));
          else if (expectation === -1) wrong.setExpectedNoStream(new emptyPb.Empty());
          else wrong.setExpectedStreamExists(new emptyPb.Empty());
          const details = new anyPb.Any();
          details.pack(wrong.serializeBinary(), 'event_store.client.WrongExpectedVersion');
          const status = new statusPb.Status();
          status.setCode(codePb.Code.FAILED_PRECONDITION);
          status.setMessage('Wrong expected version.');
          status.setDetails(details);
          response.setError(status);
        }
        call.write(response);
      } catch (error) {
        call.destroy(error as Error);
      }
    });
    call.on('end', () => call.end());
  }

  /** The write of an append, both protocols: the expected revision checked, or an idempotent repeat recognised. */
  private tryAppend(name: string, expectation: Expectation, proposed: readonly Proposed[]): Outcome {
    for (const { id } of proposed) {
      if (!UUID_PATTERN.test(id) || /^[0-]+$/.test(id)) throw grpcError(grpc.status.INVALID_ARGUMENT, `event id ${id} is not a UUID`);
    }
    const events = this.streams.get(name) ?? [];
    const current = events.length - 1;
    const holds = expectation === 'any' || (expectation === 'exists' ? current >= 0 : expectation === current);
    if (!holds) {
      // EventStoreDB's idempotent write: the very same ids right after the expected revision.
      const after = typeof expectation === 'number' ? events.slice(expectation + 1, expectation + 1 + proposed.length) : [];
      if (after.length === proposed.length && after.every((e, i) => e.id === proposed[i].id)) {
        return { ok: true, revision: after[after.length - 1].revision, transaction: after[0].transaction };
      }
      return { ok: false, current };
    }
    const written = this.commit(name, proposed);
    return { ok: true, revision: written[written.length - 1].revision, transaction: written[0].transaction };
  }

  private commit(stream: string, events: readonly Omit<LogRecord, 'stream' | 'revision' | 'position' | 'transaction'>[]): LogRecord[] {
    const records = this.streams.get(stream) ?? [];
    this.streams.set(stream, records);
    const transaction = this.next;
    const written = events.map((event) => {
      const record: LogRecord = { ...event, stream, revision: records.length, position: this.next, transaction };
      this.next += 128 + event.data.length + event.metadata.length;
      records.push(record);
      this.log.push(record);
      return record;
    });
    for (const { regex, call } of this.live) {
      for (const record of written) if (!regex || regex.test(record.stream)) call.write(readEvent(record, true));
    }
    return written;
  }

  /** What a subscription gets as it turns live: the caught-up message, or (older servers) a checkpoint at the newest record. */
  private caughtUp(): ReadResponse {
    if (this.endOfCatchUp === 'caught-up') return new ReadResp().setCaughtUp(new ReadResp.CaughtUp());
    const newest = String(this.log[this.log.length - 1]?.position ?? 0);
    return new ReadResp().setCheckpoint(new ReadResp.Checkpoint().setCommitPosition(newest).setPreparePosition(newest));
  }

  /** A stream's events as reads see them: only the last `$maxCount` when its metadata says so. */
  private visible(name: string): LogRecord[] | undefined {
    const events = this.streams.get(name);
    const meta = this.streams.get(`$$${name}`);
    if (!events || !meta?.length) return events;
    const maxCount = (JSON.parse(text(meta[meta.length - 1].data)) as { $maxCount?: number }).$maxCount;
    return maxCount === undefined ? events : events.slice(-maxCount);
  }
}

function readEvent(record: LogRecord, fromAll: boolean): ReadResponse {
  const identifier = new StreamIdentifier();
  identifier.setStreamName(Buffer.from(record.stream));
  const id = new UUID();
  id.setString(record.id);
  const recorded = new ReadResp.ReadEvent.RecordedEvent();
  recorded.setId(id);
  recorded.setStreamIdentifier(identifier);
  recorded.setStreamRevision(String(record.revision));
  recorded.setCommitPosition(String(record.position));
  recorded.setPreparePosition(String(record.transaction));
  recorded.getMetadataMap().set('type', record.type).set('content-type', 'application/json').set('created', '638000000000000000');
  recorded.setData(record.data);
  recorded.setCustomMetadata(record.metadata);
  const event = new ReadResp.ReadEvent();
  event.setEvent(recorded);
  if (fromAll) event.setCommitPosition(String(record.position));
  else event.setNoPosition(new Empty());
  return new ReadResp().setEvent(event);
}

function proposedOf(message: { getId(): InstanceType<typeof UUID> | undefined; getMetadataMap(): { get(key: string): string | undefined }; getData_asU8(): Uint8Array; getCustomMetadata_asU8(): Uint8Array }): Proposed {
  return {
    id: (message.getId()?.getString() ?? '').toLowerCase(),
    type: message.getMetadataMap().get('type') ?? '',
    data: message.getData_asU8(),
    metadata: message.getCustomMetadata_asU8(),
  };
}

function grpcError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('utf8');
}
