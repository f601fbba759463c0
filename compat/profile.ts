// The liblxc seccomp policy LXD generates for a container (lxd-behaviour.md §3.3),
// so a container wired to interceptd is filtered exactly as under LXD.

import { needsInterception, type Policy } from './keys.js';

const DEFAULT_DENY = [
  'reject_force_umount  # comment this to allow umount -f;  not recommended',
  '[all]',
  'kexec_load errno 38',
  'open_by_handle_at errno 38',
  'init_module errno 38',
  'finit_module errno 38',
  'delete_module errno 38',
];

// As current Incus: ENOSYS for fsopen and fsconfig is enough to send mount(8) back to
// mount(2), where interception can see the whole request. LXD 5.0.2 also blocks fsinfo,
// fsmount, fspick, open_tree, move_mount and openat2, which breaks programs that use
// them for other things (openat2 for safe path resolution, open_tree for bind mounts).
const NEW_MOUNT_API = ['fsopen', 'fsconfig'];

/** Notify rules, one block per enabled key, in LXD's order. */
export function interceptRules(p: Policy): string[] {
  if (!needsInterception(p)) return [];
  const rules = [
    // The container must not install a listener that would take precedence over ours.
    'seccomp errno 22 [1,2146435072,SCMP_CMP_MASKED_EQ,2146435072]',
    'seccomp errno 22 [1,8,SCMP_CMP_MASKED_EQ,8]',
  ];
  if (p.mknod) {
    rules.push(
      'mknod notify [1,8192,SCMP_CMP_MASKED_EQ,61440]',
      'mknod notify [1,24576,SCMP_CMP_MASKED_EQ,61440]',
      'mknodat notify [2,8192,SCMP_CMP_MASKED_EQ,61440]',
      'mknodat notify [2,24576,SCMP_CMP_MASKED_EQ,61440]',
    );
  }
  if (p.schedSetscheduler) rules.push('sched_setscheduler notify');
  if (p.setxattr) rules.push('setxattr notify [3,1,SCMP_CMP_EQ]');
  if (p.sysinfo) rules.push('sysinfo notify');
  if (p.mount) {
    rules.push('mount notify [3,0,SCMP_CMP_MASKED_EQ,18446744070422410016]');
    rules.push(...NEW_MOUNT_API.map((s) => `${s} errno 38`));
  }
  if (p.bpf) rules.push('bpf notify [0,5,SCMP_CMP_EQ]', 'bpf notify [0,8,SCMP_CMP_EQ]', 'bpf notify [0,9,SCMP_CMP_EQ]');
  return rules;
}

/** The whole policy file text, newline-terminated. */
export function generateProfile(p: Policy): string {
  if (p.rawSeccomp !== '') return p.rawSeccomp.endsWith('\n') ? p.rawSeccomp : `${p.rawSeccomp}\n`;
  const lines = ['2'];
  const text = (t: string): string[] => t.split('\n').filter((l) => l.trim() !== '');
  if (p.allow !== '') {
    lines.push('allowlist', '[all]', ...text(p.allow), ...interceptRules(p));
  } else {
    lines.push('denylist', '[all]');
    if (p.denyDefault) lines.push(...DEFAULT_DENY);
    lines.push(...interceptRules(p), ...text(p.deny));
  }
  return `${lines.join('\n')}\n`;
}
