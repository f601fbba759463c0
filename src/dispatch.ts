// One notification in, one answer out, always, before the deadline: resolve the
// syscall, look up the container's policy, run its handler. Shared by every transport.

import { CONTINUE, describeAnswer, type Answer } from '../protocol/answer.js';
import type { Notification } from '../protocol/seccomp.js';
import { resolveSyscall, type ResolvedSyscall } from '../protocol/syscalls.js';
import type { PolicySource } from '../compat/policy-source.js';
import { EMPTY_POLICY, type Policy } from '../compat/keys.js';
import type { Logger } from './core/log.js';
import type { Registry } from './handlers/registry.js';
import type { ContainerRef, Request, Services, Target } from './handlers/types.js';
import { Stats, type Outcome } from './stats.js';

export interface Incoming {
  readonly notif: Notification;
  readonly target: Target;
  readonly container: ContainerRef;
}

/**
 * What a handler sees. A class rather than an object literal: the methods live on the
 * prototype, so a request allocates no closures; the child logger is made only when a
 * handler logs (it costs microseconds). `policy` is settable: it may arrive later (LXD).
 */
class DispatchedRequest implements Request {
  readonly notif: Notification;
  readonly target: Target;
  readonly container: ContainerRef;
  readonly debug: boolean;
  private childLog: Logger | undefined;

  constructor(
    inc: Incoming,
    readonly syscall: ResolvedSyscall,
    public policy: Policy,
    readonly started: number,
    private readonly deadline: number,
    private readonly parentLog: Logger,
    private readonly auditLog: Logger,
  ) {
    this.notif = inc.notif;
    this.target = inc.target;
    this.container = inc.container;
    this.debug = parentLog.isLevelEnabled('debug');
  }

  get log(): Logger {
    this.childLog ??= this.parentLog.child(this.identity());
    return this.childLog;
  }

  audit(fields: object, msg: string): void {
    // elapsed_us: since the notification arrived, so a slow action shows in its line.
    const elapsed = Math.round((performance.now() - this.started) * 1000);
    // Serialized after the answer has gone out: the line is not on the caller's clock.
    setImmediate(writeAudit, this.auditLog, { audit: true, ...this.identity(), ...fields, elapsed_us: elapsed }, msg);
  }

  remainingMs(): number {
    return Math.max(1, this.deadline - Date.now());
  }

  expired(): boolean {
    return Date.now() >= this.deadline;
  }

  private identity(): { container: string; pid: number; syscall: string; abi: string } {
    return { container: this.container.name, pid: this.target.pid, syscall: this.syscall.name, abi: this.syscall.abi };
  }
}

function writeAudit(log: Logger, line: object, msg: string): void {
  log.info(line, msg);
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as Promise<T>)?.then === 'function';
}

export class Dispatcher {
  readonly stats = new Stats();
  /** Where audit lines go: the main log unless `--audit-log` names a file. */
  auditLog: Logger;

  constructor(
    private readonly registry: Registry,
    private readonly policies: PolicySource,
    private readonly services: Services,
    /** Changed by a reload; applies to requests that start afterwards. */
    public deadlineMs: number,
    private readonly log: Logger,
  ) {
    this.auditLog = log;
  }

  /** A container is starting: its policy may be fetched before its first request. */
  prepare(name: string, lxcPath?: string): void {
    this.policies.prepare?.(name, lxcPath);
  }

  /**
   * Never throws or rejects. A handler that decides synchronously is answered
   * synchronously (the common decline path: no timer, no promise); otherwise the
   * promise resolves at the latest at the deadline, with CONTINUE.
   */
  answer(inc: Incoming): Answer | Promise<Answer> {
    const started = performance.now();
    const syscall = resolveSyscall(inc.notif.arch, inc.notif.nr);
    if (syscall === undefined) {
      this.stats.record('unknown', 'continue', (performance.now() - started) * 1000);
      return CONTINUE;
    }
    const policy = this.policies.lookup(inc.container.name, inc.container.lxcPath);
    const handler = this.registry[syscall.name];
    const deadline = Date.now() + this.deadlineMs;
    if (isPromise(policy)) {
      // The container's first request while its policy is fetched (LXD's API): same deadline,
      // and no handler starts once it has passed (the request was answered CONTINUE).
      const req = new DispatchedRequest(inc, syscall, EMPTY_POLICY, started, deadline, this.log, this.auditLog);
      return this.withDeadline(
        req,
        policy.then((p) => {
          req.policy = p;
          return req.expired() ? CONTINUE : handler.handle(req, this.services);
        }),
      );
    }
    const req = new DispatchedRequest(inc, syscall, policy, started, deadline, this.log, this.auditLog);
    let result: Answer | Promise<Answer>;
    try {
      result = handler.handle(req, this.services);
    } catch (err) {
      return this.fail(req, err);
    }
    if (!isPromise(result)) return this.done(req, result);
    return this.withDeadline(req, result);
  }

  private withDeadline(req: Request, pending: Promise<Answer>): Promise<Answer> {
    return new Promise<Answer>((resolve) => {
      let settled = false;
      const finish = (a: Answer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(a);
      };
      const timer = setTimeout(() => {
        req.log.error({ deadlineMs: this.deadlineMs }, 'deadline reached; answering continue');
        finish(this.done(req, CONTINUE, 'deadline'));
      }, Math.max(1, req.remainingMs()));
      pending.then(
        (a) => {
          if (!settled) finish(this.done(req, a));
        },
        (err: unknown) => {
          if (!settled) finish(this.fail(req, err));
        },
      );
    });
  }

  private done(req: Request, a: Answer, outcome?: Outcome): Answer {
    const o = outcome ?? (a.kind === 'continue' ? 'continue' : a.kind === 'errno' ? 'errno' : 'emulated');
    this.stats.record(req.syscall.name, o, (performance.now() - req.started) * 1000);
    if (req.debug) req.log.debug({ answer: describeAnswer(a) }, 'answered');
    return a;
  }

  private fail(req: Request, err: unknown): Answer {
    // A caller that went away mid-request is normal (a signal, an exit), not a failure to report loudly.
    if ((err as { code?: unknown } | undefined)?.code === 'ICD_TARGET_GONE') req.log.debug({ err }, 'caller gone; answering continue');
    else req.log.error({ err }, 'handler failed; answering continue');
    return this.done(req, CONTINUE, 'failure');
  }
}
