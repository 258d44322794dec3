#!/usr/bin/env bash
# Contract check: every operation the simulator implements answers bodies that
# validate against the OpenAPI document.
#
# Starts spec/simulator/scenario_sim.py and `prism proxy --errors <spec>
# <simulator>` (pinned in spec/contract/package.json), sends a request through
# Prism for every implemented operation (success paths, every job and upload
# status), and fails when Prism reports any violation.  Both processes are
# stopped by PID on exit.
#
#   spec/contract/check_simulator.sh            # uses api/openapi.json
#   SPEC=/path/to/openapi.json spec/contract/check_simulator.sh
#   KEEP_LOGS=1 ...                             # keep the temp dir with logs
#
# Prism (5.14.2) behaviour this relies on (see spec/simulator/README.md):
# - it serves the spec's paths without the /v1 prefix and needs an
#   Authorization header on every request (the spec's apiKey scheme);
# - it validates the request first and answers 422 itself when it is invalid;
# - an upstream 2xx that is not declared (or a body that violates the schema)
#   becomes a 500 "VIOLATIONS" error with --errors;
# - an upstream 4xx/5xx is passed through with only a warning in its log, since
#   the document declares no error responses: error bodies cannot be validated;
# - an upstream 501 makes it "remock" the operation from the spec, so 501
#   answers are not checked here either.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SPEC=${SPEC:-$ROOT/api/openapi.json}
SIM=$ROOT/spec/simulator/scenario_sim.py
PRISM=$HERE/node_modules/.bin/prism
KEY=test-key
SECRET=test-secret
AUTH="Authorization: Basic $(printf '%s:%s' "$KEY" "$SECRET" | base64)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/check-sim.XXXXXX")
SIM_PID=
PRISM_PID=
FAILS=0
CHECKS=0

cleanup() {
    [ -n "$PRISM_PID" ] && kill "$PRISM_PID" 2>/dev/null && wait "$PRISM_PID" 2>/dev/null
    [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
    if [ -n "${KEEP_LOGS:-}" ]; then echo "logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "check_simulator: $*" >&2; exit 2; }

command -v node >/dev/null || die "node is required"
command -v curl >/dev/null || die "curl is required"
command -v python3 >/dev/null || die "python3 is required"
[ -f "$SPEC" ] || die "spec not found: $SPEC"
case "$SPEC" in *.json) ;; *) die "prism needs a spec file name ending in .json: $SPEC" ;; esac
if [ ! -x "$PRISM" ]; then
    echo "installing prism (npm ci in $HERE)"
    (cd "$HERE" && npm ci --no-audit --no-fund >"$TMP/npm.log" 2>&1) || { cat "$TMP/npm.log"; die "npm ci failed"; }
fi

# --- simulator
python3 "$SIM" --port 0 --job-duration 0.6 >"$TMP/sim.out" 2>"$TMP/sim.err" &
SIM_PID=$!
for _ in $(seq 1 100); do
    [ -s "$TMP/sim.out" ] && break
    kill -0 "$SIM_PID" 2>/dev/null || { cat "$TMP/sim.err"; die "simulator exited"; }
    sleep 0.05
done
read -r word SIM_PORT _ <"$TMP/sim.out" || die "no LISTENING line"
[ "$word" = LISTENING ] || die "unexpected simulator output: $(cat "$TMP/sim.out")"
SIMURL=http://127.0.0.1:$SIM_PORT

# --- prism
PRISM_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
"$PRISM" proxy --errors -h 127.0.0.1 -p "$PRISM_PORT" "$SPEC" "$SIMURL" >"$TMP/prism.log" 2>&1 &
PRISM_PID=$!
P=http://127.0.0.1:$PRISM_PORT
ready=
for _ in $(seq 1 600); do
    if grep -q "Prism is listening" "$TMP/prism.log" 2>/dev/null; then ready=1; break; fi
    kill -0 "$PRISM_PID" 2>/dev/null || break
    sleep 0.1
done
[ -n "$ready" ] || { tail -20 "$TMP/prism.log"; die "prism did not start"; }
echo "simulator :$SIM_PORT (pid $SIM_PID), prism $("$PRISM" --version 2>/dev/null) :$PRISM_PORT (pid $PRISM_PID)"

# req NAME EXPECTED METHOD PATH [JSON-BODY] [EXTRA-HEADER]  -> body in $TMP/last.json
req() {
    local name=$1 expected=$2 method=$3 path=$4 body=${5:-} extra=${6:-}
    local args=(-s -o "$TMP/last.json" -w '%{http_code}' -X "$method" -H "$AUTH" -H 'Accept: application/json')
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    [ -n "$extra" ] && args+=(-H "$extra")
    local code
    code=$(curl "${args[@]}" "$P$path")
    CHECKS=$((CHECKS + 1))
    if [ "$code" != "$expected" ] || grep -q 'stoplight.io/prism/errors' "$TMP/last.json"; then
        FAILS=$((FAILS + 1))
        { echo "FAIL $name: $method $path -> $code (expected $expected)"
          head -c 2000 "$TMP/last.json"; echo; } >&2
        return 1
    fi
    echo "ok   $name ($method $path -> $code)"
}

# jget EXPR: evaluate a Python expression on the last body (bound to `d`)
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$TMP/last.json"; }

# poll_job ID STATUS: GET /jobs/{id} through prism until it reaches STATUS
poll_job() {
    local id=$1 want=$2 st=
    for _ in $(seq 1 60); do
        req "GetJobId ($id)" 200 GET "/jobs/$id?projectId=proj_check" >/dev/null || return 1
        st=$(jget 'd["job"]["status"]')
        seen="$seen $st"
        [ "$st" = "$want" ] && return 0
        sleep 0.05
    done
    FAILS=$((FAILS + 1)); echo "FAIL job $id never reached $want (last $st)"; return 1
}

# --- generation
req "PostTxt2imgInferences dryRun" 269 POST "/generate/txt2img?dryRun=true" \
    '{"modelId":"model_check","prompt":"a red fox","numSamples":2}'
req "PostTxt2imgInferences" 200 POST "/generate/txt2img?projectId=proj_check" \
    '{"modelId":"model_check","prompt":"a red fox","seed":"42","numSamples":2,"aspectRatio":"16:9","guidance":7.5,"numInferenceSteps":30,"scheduler":"EulerDiscreteScheduler","negativePrompt":"blur","concepts":[{"modelId":"model_c","scale":0.5}]}'
JOB1=$(jget 'd["job"]["jobId"]')
seen=
poll_job "$JOB1" success && echo "ok   job $JOB1 statuses seen:$(echo "$seen" | tr ' ' '\n' | uniq | tr '\n' ' ')"
req "GetJobId success" 200 GET "/jobs/$JOB1"
ASSET1=$(jget 'd["job"]["metadata"]["assetIds"][0]')
ASSET2=$(jget 'd["job"]["metadata"]["assetIds"][1]')

req "PostGenerateCustom (outputs)" 200 POST "/generate/custom/model_custom" '{"prompt":"a tower","numSamples":2,"seed":7}'
JOB4=$(jget 'd["job"]["jobId"]')
req "PostGenerateCustom" 200 POST "/generate/custom/model_custom" '{"prompt":"a castle","numSamples":1}'
JOB2=$(jget 'd["job"]["jobId"]')
req "PostJobActionByJobId cancel" 200 POST "/jobs/$JOB2/action" '{"action":"cancel"}'
[ "$(jget 'd["job"]["status"]')" = canceled ] || { FAILS=$((FAILS + 1)); echo "FAIL cancel did not cancel"; }
req "GetJobId canceled" 200 GET "/jobs/$JOB2"

req "PostGenerateCustom job_fail" 200 POST "/generate/custom/model_custom" '{"prompt":"boom"}' 'X-Sim-Fault: job_fail'
JOB3=$(jget 'd["job"]["jobId"]')
seen=
poll_job "$JOB3" failure && echo "ok   job $JOB3 statuses seen:$(echo "$seen" | tr ' ' '\n' | uniq | tr '\n' ' ')"

seen=
poll_job "$JOB4" success
req "GetJobId custom success" 200 GET "/jobs/$JOB4"
ASSET5=$(jget 'd["job"]["metadata"]["assetIds"][1]')
req "GetAssetsByAssetId (custom output)" 200 GET "/assets/$ASSET5"
req "GetJobs" 200 GET "/jobs"
req "GetJobs page 1" 200 GET "/jobs?pageSize=1"
TOKEN=$(jget 'd.get("nextPaginationToken", "")')
req "GetJobs page 2" 200 GET "/jobs?pageSize=1&paginationToken=$TOKEN"
req "GetJobs by status" 200 GET "/jobs?status=success"

# --- assets
req "GetAssetsByAssetId" 200 GET "/assets/$ASSET1"
req "GetAssets" 200 GET "/assets"
req "GetAssets page 1" 200 GET "/assets?pageSize=1&sortDirection=asc"
TOKEN=$(jget 'd.get("nextPaginationToken", "")')
req "GetAssets page 2" 200 GET "/assets?pageSize=1&sortDirection=asc&paginationToken=$TOKEN"
req "PostAssetGetBulk" 200 POST "/assets/get-bulk" "{\"assetIds\":[\"$ASSET1\",\"$ASSET2\",\"asset_missing\"]}"
PNG_B64=$(python3 -B -c 'import base64,sys; sys.path.insert(0, sys.argv[1]); import scenario_sim as s; print(base64.b64encode(s.make_png("1", "check", 0, 16, 16)).decode())' "$ROOT/spec/simulator")
req "PostAsset" 200 POST "/assets" "{\"name\":\"check.png\",\"image\":\"$PNG_B64\"}"
ASSET3=$(jget 'd["asset"]["id"]')
req "DeleteAsset" 200 DELETE "/assets" "{\"assetIds\":[\"$ASSET2\",\"$ASSET3\"]}"

# --- uploads (parts are PUT straight to the simulator: not part of the spec)
req "PostUploads" 200 POST "/uploads" '{"fileName":"check.png","contentType":"image/png","kind":"image","parts":1,"fileSize":5}'
UPLOAD=$(jget 'd["upload"]["id"]')
PART_URL=$(jget 'd["upload"]["parts"][0]["url"]')
curl -s -o /dev/null -X PUT --data-binary 'hello' "$PART_URL"
req "GetUploads pending" 200 GET "/uploads/$UPLOAD"
req "PostUploadsAction complete" 200 POST "/uploads/$UPLOAD/action" '{"action":"complete"}'
seen=
for _ in $(seq 1 60); do
    req "GetUploads" 200 GET "/uploads/$UPLOAD" >/dev/null || break
    st=$(jget 'd["upload"]["status"]'); seen="$seen $st"
    [ "$st" = imported ] && break
    sleep 0.05
done
if [ "${st:-}" = imported ]; then
    echo "ok   upload $UPLOAD statuses seen:$(echo "$seen" | tr ' ' '\n' | uniq | tr '\n' ' ')"
else
    FAILS=$((FAILS + 1)); echo "FAIL upload never imported (last ${st:-?})"
fi
ASSET4=$(jget 'd["upload"]["entityId"]')
req "GetAssetsByAssetId (uploaded)" 200 GET "/assets/$ASSET4"
req "PostUploads (failing validation)" 200 POST "/uploads" '{"fileName":"bad.bin","kind":"asset","parts":1,"fileSize":10}'
UPLOAD2=$(jget 'd["upload"]["id"]')
curl -s -o /dev/null -X PUT --data-binary 'short' "$(jget 'd["upload"]["parts"][0]["url"]')"
req "PostUploadsAction failed" 200 POST "/uploads/$UPLOAD2/action" '{"action":"complete"}'
[ "$(jget 'd["upload"]["status"]')" = failed ] || { FAILS=$((FAILS + 1)); echo "FAIL upload2 should be failed"; }

# --- anything Prism flagged in its log for these (all success-path) requests
if grep -E "Violation|✖" "$TMP/prism.log" >"$TMP/violations.txt"; then
    FAILS=$((FAILS + 1))
    echo "FAIL prism logged violations:"; cut -c1-400 "$TMP/violations.txt"
fi

echo "$CHECKS requests through prism, $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
