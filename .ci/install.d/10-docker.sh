# The live tests' own Docker Engine (tests/live/dockerd.py starts and stops it; the package's
# system daemon is kept from starting) and debootstrap for the stand-in images' Debian base.
apt_install docker.io debootstrap iproute2
dockerd --version >/dev/null
