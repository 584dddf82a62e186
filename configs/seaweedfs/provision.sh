#!/bin/sh
# Makes buckets on SeaweedFS's S3 gateway and, optionally, one identity allowed on them only.
# Run by a one-shot job (components/objectstore.py) with the store's own image (busybox sh and
# curl); every request goes to the S3 port, signed by the admin identity. Safe to run again: what
# exists already is kept, and the identity's key pair and policy are set to the ones given.
#
#   provision.sh ENDPOINT REGION BUCKET[,BUCKET...] [USER ACCESS_KEY]
#
# Files beside this script: admin.curlrc (curl config: user = "<access key>:<secret key>"), and
# with USER: secret-key (the identity's secret key) and policy.json (its IAM policy).
set -eu

here=$(dirname "$0")
endpoint=$1
region=$2
buckets=$3
user=${4:-}
access_key=${5:-}
response=$(mktemp)

# request SERVICE ALREADY CURL_ARGS...: one signed request. Returns 0 on HTTP 200, 1 when the
# answer is the error code ALREADY (the thing exists), and stops the job on anything else.
request() {
    service=$1
    already=$2
    shift 2
    status=$(curl --silent --show-error --config "$here/admin.curlrc" --aws-sigv4 "aws:amz:$region:$service" \
        --output "$response" --write-out '%{http_code}' "$@")
    if [ "$status" = 200 ]; then
        return 0
    fi
    if [ -n "$already" ] && grep -q "<Code>$already</Code>" "$response"; then
        return 1
    fi
    echo "$service request ($*) answered HTTP $status:" >&2
    cat "$response" >&2
    exit 1
}

iam() {
    action=$1
    already=$2
    shift 2
    request iam "$already" --data-urlencode "Action=$action" --data-urlencode "Version=2010-05-08" "$@" "$endpoint/"
}

for bucket in $(echo "$buckets" | tr ',' ' '); do
    if request s3 BucketAlreadyOwnedByYou --request PUT "$endpoint/$bucket"; then
        echo "bucket $bucket created"
    else
        echo "bucket $bucket exists"
    fi
done

[ -n "$user" ] || exit 0

if iam CreateUser EntityAlreadyExists --data-urlencode "UserName=$user"; then
    echo "user $user created"
else
    echo "user $user exists"
fi
key_pair() {
    iam CreateAccessKey EntityAlreadyExists --data-urlencode "UserName=$user" \
        --data-urlencode "AccessKeyId=$access_key" --data-urlencode "SecretAccessKey@$here/secret-key"
}
if ! key_pair; then
    # The key id exists, perhaps with another secret: replace it with the one given.
    iam DeleteAccessKey "" --data-urlencode "UserName=$user" --data-urlencode "AccessKeyId=$access_key"
    key_pair
fi
echo "key pair $access_key set"
iam PutUserPolicy "" --data-urlencode "UserName=$user" --data-urlencode "PolicyName=$user-buckets" \
    --data-urlencode "PolicyDocument@$here/policy.json"
echo "policy $user-buckets set: $buckets"
