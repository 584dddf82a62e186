"""Who can read a secret file as a container runs (components/service.py's File says why there are two ways)."""

from harness.offline import Registered

ROOT_GROUP = "0"


def private_to(container: Registered, path: str, uid: str) -> bool:
    """Whether the file `path` of `container` is readable by the service's user `uid` and, besides
    root, nobody else: handed over to `uid` (mode 0400), or root's with mode 0440 read through
    the group 0 the container's user is given."""
    [upload] = [u for u in container.inputs["uploads"] if u["file"] == path]
    if uid == "0" or upload.get("owner") == uid:
        return upload["permissions"] == "0400" and upload.get("owner") in (None, uid)
    return (
        upload.get("owner") is None
        and upload["permissions"] == "0440"
        and ROOT_GROUP in (container.inputs.get("groupAdds") or [])
    )
