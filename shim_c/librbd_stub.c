/* librbd.so.1 carries no code: it NEEDs librados.so.2 (RUNPATH $ORIGIN), which exports every
 * rbd_* and rados_* function. Clients that link librbd.so.1 only (python3-rbd) find the
 * rbd_* symbols there through the dependency; one copy of the library is ever loaded. */
