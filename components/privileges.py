"""What every container of the platform may do, services and spawned notebooks alike.

Kept apart from the catalog: Renovate reads every quoted `name:tag` in catalog.py as an image.
"""

# no-new-privileges: no process gains privileges through a setuid binary or file capabilities.
# Images that start as root and switch to their user (gosu, su-exec, setpriv) do so with the
# capabilities they have, which this leaves alone.
SECURITY_OPTIONS = ("no-new-privileges:true",)
# Docker's default capabilities that no container of the platform uses: auditing, keeping setuid
# bits on written files, device nodes, ports below 1024 (every service listens above), raw sockets,
# file capabilities, changing its own capability sets, chroot. Kept: CHOWN, DAC_OVERRIDE, FOWNER,
# KILL, SETGID and SETUID, with which the images that start as root hand their data directories to
# their user, switch to it, and signal it (tini, dumb-init). Spelled as the Docker Engine records
# them (CAP_..., sorted), so the docker provider reads back what it sent.
DROPPED_CAPABILITIES = (
    "CAP_AUDIT_WRITE",
    "CAP_FSETID",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_SYS_CHROOT",
)
