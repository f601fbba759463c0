// Debian's runc (1.1.x) with an unprivileged busybox bundle wired by `interceptd oci-config`.

import t from 'tap';
import { ociSuite } from './lib/oci-suite.js';

ociSuite(t, 'runc');
