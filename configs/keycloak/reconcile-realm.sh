#!/bin/bash
# Makes the realm what the program defines, through Keycloak's admin API with the image's own
# kcadm.sh. Run by a one-shot job (components/security.py) after Keycloak is healthy, and again by
# every `pulumi up` that changes one of its files. Safe to run again:
# - the realm's settings are set to the ones given (created with them the first time);
# - roles, groups and the first admin are created when missing, and kept as people changed them
#   (a group's members stay);
# - the clients are overwritten with the given ones (redirect URIs, secrets, mappers), so a new
#   UI, a moved host or a rotated secret reaches Keycloak; clients made by hand are left alone;
# - the first admin gets the stack's password again and is put back in the admins' group.
#
#   reconcile-realm.sh SERVER REALM FIRST_ADMIN ADMINS_GROUP
#
# Files beside this script: admin-user and admin-password (the master realm's bootstrap admin),
# realm.json (the realm's settings), resources.json (roles, groups, the first admin),
# clients.json (the clients, with their secrets), first-admin-credential.json.
set -euo pipefail

here=$(dirname "$0")
server=$1
realm=$2
first_admin=$3
admins_group=$4
config=$(mktemp)

kcadm() {
    /opt/keycloak/bin/kcadm.sh "$@" --config "$config"
}

# KC_CLI_PASSWORD: kcadm reads the password from it, so it is on no command line.
login() {
    KC_CLI_PASSWORD=$(<"$here/admin-password") kcadm config credentials \
        --server "$server" --realm master --user "$(<"$here/admin-user")"
}
for attempt in 1 2 3 4 5 6; do
    login && break
    [ "$attempt" = 6 ] && { echo "cannot log in to $server as the bootstrap admin" >&2; exit 1; }
    sleep 5
done

if kcadm get "realms/$realm" --fields realm >/dev/null 2>&1; then
    kcadm update "realms/$realm" -f "$here/realm.json"
    echo "realm $realm: settings set"
else
    kcadm create realms -f "$here/realm.json"
    echo "realm $realm: created"
fi

kcadm create partialImport -r "$realm" -s ifResourceExists=SKIP -o -f "$here/resources.json" >/dev/null
kcadm create partialImport -r "$realm" -s ifResourceExists=OVERWRITE -o -f "$here/clients.json" >/dev/null
echo "realm $realm: roles, groups and first admin present; clients set"

# id_of COLLECTION QUERY FIELD NAME: the id of the one entry whose FIELD is NAME, found by QUERY=NAME.
id_of() {
    kcadm get "$1" -r "$realm" -q "$2=$4" -q exact=true --fields "id,$3" --format csv --noquotes |
        awk -F, -v name="$4" '$1 == name { print $2 } $2 == name { print $1 }'
}
admin_id=$(id_of users username username "$first_admin")
group_id=$(id_of groups search name "$admins_group")
if [ -z "$admin_id" ] || [ -z "$group_id" ]; then
    echo "realm $realm: no user $first_admin or no group $admins_group after the import" >&2
    exit 1
fi
kcadm update "users/$admin_id/reset-password" -r "$realm" -f "$here/first-admin-credential.json" -n
kcadm update "users/$admin_id/groups/$group_id" -r "$realm" \
    -s realm="$realm" -s userId="$admin_id" -s groupId="$group_id" -n
echo "realm $realm: $first_admin has the stack's password and is in $admins_group"
