# The live tests' own Docker Engine (tests/live/dockerd.py starts and stops it, with its own data
# root, socket and bridge) and debootstrap for the stand-in images' Debian base.
# An engine already installed (Docker's docker-ce, Debian's docker.io, ...) is used as it is: its
# dockerd runs the private daemon beside the system one, which it never touches. Debian's
# docker.io is installed only where there is no dockerd at all (its system daemon is kept from
# starting), so `make test` never replaces a workstation's Docker Engine.
if command -v dockerd >/dev/null; then
    echo "   the private test daemon runs the installed $(dockerd --version)"
    apt_install debootstrap iproute2
else
    apt_install docker.io debootstrap iproute2
fi
dockerd --version >/dev/null
