// One notification in, one answer out, always, before the deadline: resolve the
// syscall, look up the container's policy, run its handler. Shared by every transport.

import { CONTINUE, describeAnswer, type Answer } from '../protocol/answer.js';
import type { Notification } from '../protocol/seccomp.js';
import { resolveSyscall } from '../protocol/syscalls.js';
import type { PolicySource } from '../compat/policy-source.js';
import type { Logger } from './core/log.js';
import type { Registry } from './handlers/registry.js';
import type { ContainerRef, Services, Target } from './handlers/types.js';

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

export class Dispatcher {
  readonly stats: DispatchStats = { requests: 0, emulated: 0, continued: 0, errnos: 0, failures: 0, deadlines: 0 };

  constructor(
    private readonly registry: Registry,
    private readonly policies: PolicySource,
    private readonly services: Services,
    private readonly deadlineMs: number,
    private readonly log: Logger,
  ) {}

  /** Never rejects; resolves at the latest after the deadline, with CONTINUE if the handler did not finish. */
  answer(inc: Incoming): Promise<Answer> {
    this.stats.requests++;
    const syscall = resolveSyscall(inc.notif.arch, inc.notif.nr);
    if (syscall === undefined) {
      this.log.debug({ arch: inc.notif.arch, nr: inc.notif.nr }, 'unknown syscall; continue');
      this.stats.continued++;
      return Promise.resolve(CONTINUE);
    }
    const log = this.log.child({ container: inc.container.name, pid: inc.target.pid, syscall: syscall.name, abi: syscall.abi });
    const deadline = Date.now() + this.deadlineMs;
    return new Promise<Answer>((resolve) => {
      let done = false;
      const finish = (a: Answer): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.count(a);
        resolve(a);
      };
      const timer = setTimeout(() => {
        this.stats.deadlines++;
        log.error({ deadlineMs: this.deadlineMs }, 'deadline reached; answering continue');
        finish(CONTINUE);
      }, this.deadlineMs);
      try {
        const policy = this.policies.lookup(inc.container.name);
        const req = {
          notif: inc.notif,
          syscall,
          target: inc.target,
          container: inc.container,
          policy,
          log,
          remainingMs: () => Math.max(1, deadline - Date.now()),
        };
        Promise.resolve(this.registry[syscall.name].handle(req, this.services)).then(
          (a) => {
            log.debug({ answer: describeAnswer(a) }, 'answered');
            finish(a);
          },
          (err: unknown) => this.fail(log, err, finish),
        );
      } catch (err) {
        this.fail(log, err, finish);
      }
    });
  }

  private fail(log: Logger, err: unknown, finish: (a: Answer) => void): void {
    this.stats.failures++;
    log.error({ err }, 'handler failed; answering continue');
    finish(CONTINUE);
  }

  private count(a: Answer): void {
    if (a.kind === 'continue') this.stats.continued++;
    else if (a.kind === 'errno') this.stats.errnos++;
    else this.stats.emulated++;
  }
}
