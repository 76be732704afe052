import test from 'ava';
import { NbdErrno } from '../../nbd/constants.js';
import { nbdErrnoForDeviceError } from '../../nbd/errors.js';

const plain = { fastZero: false };

test('device errors map to NBD errors by their errno-style code', (t) => {
  t.is(nbdErrnoForDeviceError(Object.assign(new Error('full'), { code: 'ENOSPC' }), plain), NbdErrno.ENOSPC);
  t.is(nbdErrnoForDeviceError(Object.assign(new Error('ro'), { code: 'EROFS' }), plain), NbdErrno.EPERM);
  t.is(nbdErrnoForDeviceError(new Error('anything else'), plain), NbdErrno.EIO);
});

test("a device's own error code with a string errno maps by the errno, so a closed volume answers ESHUTDOWN", (t) => {
  t.is(nbdErrnoForDeviceError(Object.assign(new Error('closed'), { code: 'ERR_VOLUME_CLOSED', errno: 'ESHUTDOWN' }), plain), NbdErrno.ESHUTDOWN);
  t.is(nbdErrnoForDeviceError(Object.assign(new Error('fenced'), { code: 'ERR_VOLUME_FENCED', errno: 'EIO' }), plain), NbdErrno.EIO);
  // Node's fs errors carry a number in errno: the code decides.
  t.is(nbdErrnoForDeviceError(Object.assign(new Error('fs'), { code: 'ENOSPC', errno: -28 }), plain), NbdErrno.ENOSPC);
});
