// One notification in, one answer out, always, before the deadline: resolve the
// syscall, look up the container's policy, run its handler. Shared by every transport.

import { CONTINUE, describeAnswer, type Answer } from '../protocol/answer.js';
import type { Notification } from '../protocol/seccomp.js';
import { resolveSyscall, type ResolvedSyscall } from '../protocol/syscalls.js';
import type { PolicySource } from '../compat/policy-source.js';
import type { Logger } from './core/log.js';
import type { Registry } from './handlers/registry.js';
import type { ContainerRef, Request, Services, Target } from './handlers/types.js';

export interface Incoming {
  readonly notif: Notification;
  readonly target: Target;
  readonly container: ContainerRef;
}

export interface DispatchStats {
  requests: number;
  emulated: number;
  continued: number;
  errnos: number;
  failures: number;
  deadlines: number;
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as Promise<T>)?.then === 'function';
}

export class Dispatcher {
  readonly stats: DispatchStats = { requests: 0, emulated: 0, continued: 0, errnos: 0, failures: 0, deadlines: 0 };

  constructor(
    private readonly registry: Registry,
    private readonly policies: PolicySource,
    private readonly services: Services,
    private readonly deadlineMs: number,
    private readonly log: Logger,
  ) {}

  /**
   * Never throws or rejects. A handler that decides synchronously is answered
   * synchronously (the common decline path: no timer, no promise); otherwise the
   * promise resolves at the latest at the deadline, with CONTINUE.
   */
  answer(inc: Incoming): Answer | Promise<Answer> {
    this.stats.requests++;
    const syscall = resolveSyscall(inc.notif.arch, inc.notif.nr);
    if (syscall === undefined) {
      this.stats.continued++;
      return CONTINUE;
    }
    const req = this.request(inc, syscall, Date.now() + this.deadlineMs);
    let result: Answer | Promise<Answer>;
    try {
      result = this.registry[syscall.name].handle(req, this.services);
    } catch (err) {
      return this.fail(req, err);
    }
    if (!isPromise(result)) return this.done(req, result);
    return this.withDeadline(req, result);
  }

  private request(inc: Incoming, syscall: ResolvedSyscall, deadline: number): Request {
    const parent = this.log;
    let log: Logger | undefined;
    return {
      notif: inc.notif,
      syscall,
      target: inc.target,
      container: inc.container,
      policy: this.policies.lookup(inc.container.name),
      // A child logger costs microseconds: made only when a handler logs.
      get log() {
        log ??= parent.child({ container: inc.container.name, pid: inc.target.pid, syscall: syscall.name, abi: syscall.abi });
        return log;
      },
      debug: parent.isLevelEnabled('debug'),
      remainingMs: () => Math.max(1, deadline - Date.now()),
    };
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
        this.stats.deadlines++;
        req.log.error({ deadlineMs: this.deadlineMs }, 'deadline reached; answering continue');
        finish(this.done(req, CONTINUE));
      }, this.deadlineMs);
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

  private done(req: Request, a: Answer): Answer {
    if (a.kind === 'continue') this.stats.continued++;
    else if (a.kind === 'errno') this.stats.errnos++;
    else this.stats.emulated++;
    if (req.debug) req.log.debug({ answer: describeAnswer(a) }, 'answered');
    return a;
  }

  private fail(req: Request, err: unknown): Answer {
    this.stats.failures++;
    req.log.error({ err }, 'handler failed; answering continue');
    return this.done(req, CONTINUE);
  }
}
