#!/usr/bin/env bash
# Contract check: every operation the simulator implements answers bodies that
# validate against the OpenAPI document.
#
# Starts simulator/scenario_sim.py and `prism proxy --errors <spec>
# <simulator>` (pinned in spec/contract/package.json), sends a request through
# Prism for every implemented operation (success paths, every job and upload
# status), and fails when Prism reports any violation.  Both processes are
# stopped by PID on exit.
#
#   spec/contract/check_simulator.sh            # uses api/openapi.json
#   SPEC=/path/to/openapi.json spec/contract/check_simulator.sh
#   KEEP_LOGS=1 ...                             # keep the temp dir with logs
#
# Prism (5.14.2) behaviour this relies on (see simulator/README.md):
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
SIM=$ROOT/simulator/scenario_sim.py
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
PNG_B64=$(python3 -B -c 'import base64,sys; sys.path.insert(0, sys.argv[1]); from simulator.png import make_png; print(base64.b64encode(make_png("1", "check", 0, 16, 16)).decode())' "$ROOT")
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

# direct: CHECK NAME CONDITION-EXIT-STATUS (checks made straight on the simulator)
direct() {
    local name=$1; shift
    CHECKS=$((CHECKS + 1))
    if "$@"; then echo "ok   $name (direct)"; else FAILS=$((FAILS + 1)); echo "FAIL $name (direct)"; fi
}
# sim METHOD PATH [JSON-BODY]: straight to the simulator (control endpoints)
sim() {
    curl -s -X "$1" ${3:+-H 'Content-Type: application/json' --data-binary "$3"} "$SIMURL$2"
}

# --- every other generate operation: a dry run (269) and a job (200), then
# every job polled to success and one output of each image operation fetched
GEN_JOBS=
gen() {
    local name=$1 body=$2
    req "generate/$name dryRun" 269 POST "/generate/$name?dryRun=true" "$body"
    req "generate/$name" 200 POST "/generate/$name" "$body" && GEN_JOBS="$GEN_JOBS $(jget 'd["job"]["jobId"]')"
}
IMG=$ASSET1
gen caption "{\"images\":[\"$IMG\"]}"
gen controlnet "{\"modality\":\"canny\",\"modelId\":\"flux.1-dev\",\"prompt\":\"a fox\",\"image\":\"$IMG\",\"numSamples\":2,\"seed\":\"3\"}"
gen controlnet-img2img "{\"modality\":\"depth\",\"modelId\":\"flux.1-dev\",\"prompt\":\"a fox\",\"image\":\"$IMG\"}"
gen controlnet-inpaint "{\"modality\":\"canny\",\"modelId\":\"flux.1-dev\",\"prompt\":\"a fox\",\"image\":\"$IMG\"}"
gen controlnet-inpaint-ip-adapter "{\"modelId\":\"flux.1-dev\",\"prompt\":\"a fox\",\"image\":\"$IMG\"}"
gen controlnet-ip-adapter "{\"modality\":\"pose\",\"modelId\":\"flux.1-dev\",\"prompt\":\"a fox\",\"image\":\"$IMG\"}"
gen controlnet-texture "{\"modality\":\"normal-map\",\"modelId\":\"flux.1-dev\",\"prompt\":\"a fox\",\"image\":\"$IMG\"}"
gen describe-style "{\"images\":[\"$IMG\"]}"
gen detect "{\"image\":\"$IMG\",\"modality\":\"canny\"}"
gen embed '{"text":"a red fox"}'
gen generative-fill "{\"image\":\"$IMG\",\"prompt\":\"sky\",\"seed\":5}"
gen img2img "{\"modelId\":\"flux.1-dev\",\"prompt\":\"a fox\",\"image\":\"$IMG\"}"
gen img2img-ip-adapter "{\"modelId\":\"flux.1-dev\",\"prompt\":\"a fox\",\"image\":\"$IMG\"}"
gen img2img-texture "{\"modelId\":\"flux.1-dev\",\"prompt\":\"a fox\",\"image\":\"$IMG\"}"
gen inpaint "{\"modelId\":\"flux.1-dev\",\"prompt\":\"a fox\",\"image\":\"$IMG\"}"
gen inpaint-ip-adapter "{\"modelId\":\"flux.1-dev\",\"prompt\":\"a fox\",\"image\":\"$IMG\"}"
gen patch "{\"image\":\"$IMG\"}"
gen pixelate "{\"image\":\"$IMG\",\"pixelGridSize\":32,\"removeNoise\":true}"
gen prompt '{"mode":"structured","prompt":"a fox"}'
gen prompt-editing "{\"image\":\"$IMG\",\"prompt\":\"make it night\",\"numSamples\":2}"
gen reframe "{\"image\":\"$IMG\",\"targetWidth\":1024,\"targetHeight\":512}"
gen remove-background "{\"image\":\"$IMG\"}"
gen restyle "{\"image\":\"$IMG\",\"styleImages\":[\"$ASSET5\"]}"
gen segment "{\"image\":\"$IMG\"}"
gen skybox-base-360 '{"prompt":"a desert at dawn","numOutputs":2}'
gen skybox-upscale-360 "{\"image\":\"$IMG\"}"
gen texture "{\"texture\":\"$IMG\"}"
gen translate '{"prompt":"un renard roux"}'
gen txt2img-ip-adapter '{"modelId":"flux.1-dev","prompt":"a fox"}'
gen txt2img-texture '{"modelId":"flux.1-dev","prompt":"a fox"}'
gen upscale "{\"image\":\"$IMG\"}"
gen vectorize "{\"image\":\"$IMG\"}"
req "PostGenerateCustom (model with inputs[])" 200 POST "/generate/custom/model_sim-custom" \
    '{"prompt":"a fox","numSamples":2,"aspectRatio":"16:9","style":"photo","referenceImages":["x"]}'
GEN_JOBS="$GEN_JOBS $(jget 'd["job"]["jobId"]')"
GEN_ASSET=
for j in $GEN_JOBS; do
    seen=
    poll_job "$j" success || continue
    a=$(jget '(d["job"]["metadata"]["assetIds"] or [""])[0]')
    [ -n "$a" ] && GEN_ASSET="$GEN_ASSET $a"
done
echo "ok   $(echo $GEN_JOBS | wc -w) generate jobs reached success"
for a in $GEN_ASSET; do req "GetAssetsByAssetId (generated)" 200 GET "/assets/$a" >/dev/null || true; done
echo "ok   $(echo $GEN_ASSET | wc -w) generated assets fetched"

# --- pagination over three pages (records seeded straight on the simulator)
sim POST /_sim/seed '{"assets":5,"models":3,"collections":3,"workflows":3,"jobs":3}' >"$TMP/seed.json"
direct "seed" grep -q '"asset_seed000005"' "$TMP/seed.json"
# pages LABEL PATH-WITH-QUERY: walks three pages with pageSize in PATH
pages() {
    local label=$1 path=$2 tok= n
    for n in 1 2 3; do
        req "$label page $n" 200 GET "$path${tok:+&paginationToken=$tok}" || return 1
        tok=$(jget 'd.get("nextPaginationToken", "")')
        [ -n "$tok" ] || { [ $n = 3 ] || { FAILS=$((FAILS + 1)); echo "FAIL $label: no page $((n + 1))"; }; return; }
    done
}
pages GetAssets "/assets?pageSize=2"
pages GetJobs "/jobs?pageSize=1"
pages GetModels "/models?pageSize=2"
pages GetCollections "/collections?pageSize=1"
pages GetWorkflows "/workflows?pageSize=1"
req "GetJobs by type" 200 GET "/jobs?type=inference&status=success,failure"

# --- models
req "GetModelsByModelId" 200 GET "/models/flux.1-dev"
req "GetModelsByModelId (inputs)" 200 GET "/models/model_sim-custom"
direct "model inputs[]" [ "$(jget 'len(d["model"]["inputs"])')" -gt 3 ]
req "GetModels" 200 GET "/models"
req "GetModels by type" 200 GET "/models?type=custom"
req "PostModelsGetBulk" 200 POST "/models/get-bulk" '{"modelIds":["flux.1-dev","model_sim-custom","model_missing"]}'
direct "models get-bulk" [ "$(jget 'len(d["models"])')" = 2 ]

# --- collections
req "PostCollection" 200 POST "/collections" '{"name":"check"}'
COL=$(jget 'd["collection"]["id"]')
req "GetCollectionsByCollectionId" 200 GET "/collections/$COL"
req "PutCollectionsByCollectionId" 200 PUT "/collections/$COL" "{\"name\":\"renamed\",\"thumbnail\":\"$ASSET1\"}"
req "PutAssetsByCollectionId" 200 PUT "/collections/$COL/assets" "{\"assetIds\":[\"$ASSET1\",\"$ASSET5\"]}"
direct "collection assetCount" [ "$(jget 'd["collection"]["assetCount"]')" = 2 ]
req "GetAssets by collection" 200 GET "/assets?collectionId=$COL"
direct "assets of the collection" [ "$(jget 'len(d["assets"])')" = 2 ]
req "DeleteAssetsByCollectionId" 200 DELETE "/collections/$COL/assets" "{\"assetIds\":[\"$ASSET5\"]}"
req "PutModelsByCollectionId" 200 PUT "/collections/$COL/models" '{"modelIds":["model_sim-custom"]}'
req "DeleteModelsByCollectionId" 200 DELETE "/collections/$COL/models" '{"modelIds":["model_sim-custom"]}'
req "GetCollections" 200 GET "/collections"
req "DeleteCollectionsByCollectionId" 200 DELETE "/collections/$COL"

# --- workflows: create, define (with a user-approval node), run, approve
req "PostWorkflows" 200 POST "/workflows" '{"name":"check","description":"contract check"}'
WF=$(jget 'd["workflow"]["id"]')
WF_BODY='{"name":"check","description":"contract check","status":"ready","tagSet":["check"],
 "inputs":[{"name":"prompt","type":"string","required":{"always":true}},
           {"name":"steps","type":"number","min":1,"max":50}],
 "flow":[{"id":"gen","type":"custom-model","modelId":"model_sim-custom","status":"pending",
          "inputs":[{"name":"prompt","type":"string","ref":{"name":"prompt"}}]},
         {"id":"approve","type":"user-approval","dependsOn":["gen"],"status":"pending"},
         {"id":"cutout","type":"remove-background","dependsOn":["approve"],"status":"pending",
          "inputs":[{"name":"image","type":"file","ref":{"node":"gen","name":"image"}}]}]}'
req "PutWorkflowsByWorkflowId" 200 PUT "/workflows/$WF" "$WF_BODY"
req "GetWorkflowsByWorkflowId" 200 GET "/workflows/$WF"
req "GetWorkflows ready" 200 GET "/workflows?status=ready"
direct "workflow dry run answers 269" [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "$AUTH" \
    -H 'Content-Type: application/json' --data-binary '{"prompt":"a fox"}' "$SIMURL/v1/workflows/$WF/run?dryRun=true")" = 269 ]
req "PutWorkflowRunByWorkflowId" 200 PUT "/workflows/$WF/run" '{"prompt":"a fox","steps":20}'
WJOB=$(jget 'd["job"]["jobId"]')
seen=
for _ in $(seq 1 60); do
    req "GetJobId (workflow)" 200 GET "/jobs/$WJOB" >/dev/null || break
    st=$(jget '[n["status"] for n in d["job"]["metadata"]["flow"] if n["id"] == "approve"][0]')
    seen="$seen $st"
    [ "$st" = processing ] && break
    sleep 0.05
done
direct "workflow parked on its approval node" [ "$st" = processing ]
req "PutWorkflowUserApprovalByWorkflowId" 200 PUT "/workflows/$WF/user-approval" \
    "{\"workflowJobId\":\"$WJOB\",\"nodeId\":\"approve\"}"
seen=
poll_job "$WJOB" success && echo "ok   workflow job $WJOB statuses seen:$(echo "$seen" | tr ' ' '\n' | uniq | tr '\n' ' ')"
direct "workflow outputs" [ "$(jget 'len(d["job"]["metadata"]["assetIds"])')" = 1 ]
req "PutWorkflowRunByWorkflowId job_fail" 200 PUT "/workflows/$WF/run" '{"prompt":"boom"}' 'X-Sim-Fault: job_fail'
WJOB2=$(jget 'd["job"]["jobId"]')
seen=
poll_job "$WJOB2" failure
req "GetJobs of the workflow" 200 GET "/jobs?workflowId=$WF&type=workflow"
req "DeleteWorkflowsByWorkflowId" 200 DELETE "/workflows/$WF"

# --- uploads: expired part URLs refreshed by GET /uploads/{id}; failed validation
sim POST /_sim/config '{"min_part_size":4}' >/dev/null
req "PostUploads (2 parts)" 200 POST "/uploads" '{"fileName":"two.txt","contentType":"text/plain","kind":"asset","parts":2,"fileSize":9}'
UPLOAD3=$(jget 'd["upload"]["id"]')
P1=$(jget 'd["upload"]["parts"][0]["url"]')
P2=$(jget 'd["upload"]["parts"][1]["url"]')
direct "part with Authorization refused" [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "$AUTH" --data-binary 'hello' "$P1")" = 400 ]
direct "part 1 stored" [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary 'hello' "$P1")" = 200 ]
direct "expired part URL" [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'X-Sim-Fault: expired' --data-binary 'four' "$P2")" = 403 ]
direct "old part URL stays expired" [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary 'four' "$P2")" = 403 ]
req "GetUploads (fresh part URLs)" 200 GET "/uploads/$UPLOAD3"
P2=$(jget 'd["upload"]["parts"][1]["url"]')
direct "fresh part URL" [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary 'four' "$P2")" = 200 ]
req "PostUploadsAction complete (2 parts)" 200 POST "/uploads/$UPLOAD3/action" '{"action":"complete"}'
for _ in $(seq 1 60); do
    req "GetUploads" 200 GET "/uploads/$UPLOAD3" >/dev/null || break
    st=$(jget 'd["upload"]["status"]'); [ "$st" = imported ] && break
    sleep 0.05
done
direct "upload of 2 parts imported" [ "$st" = imported ]
ASSET6=$(jget 'd["upload"]["entityId"]')
req "GetAssetsByAssetId (2 parts)" 200 GET "/assets/$ASSET6"
direct "assembled file" [ "$(curl -s "$(jget 'd["asset"]["url"]')")" = hellofour ]
req "PostUploads (upload_fail)" 200 POST "/uploads" '{"fileName":"bad.png","contentType":"image/png","kind":"image","parts":1,"fileSize":3}' 'X-Sim-Fault: upload_fail=corrupt image'
UPLOAD4=$(jget 'd["upload"]["id"]')
curl -s -o /dev/null -X PUT --data-binary 'abc' "$(jget 'd["upload"]["parts"][0]["url"]')"
req "PostUploadsAction complete (upload_fail)" 200 POST "/uploads/$UPLOAD4/action" '{"action":"complete"}'
for _ in $(seq 1 60); do
    req "GetUploads" 200 GET "/uploads/$UPLOAD4" >/dev/null || break
    st=$(jget 'd["upload"]["status"]'); [ "$st" = failed ] && break
    sleep 0.05
done
direct "upload_fail ends in failed with errorMessage" [ "$st:$(jget 'd["upload"].get("errorMessage")')" = "failed:corrupt image" ]

# --- downloads: redirects (not part of the spec: checked straight on the simulator)
FILE_URL=$SIMURL/_files/$ASSET1.png
direct "redirect to /_cdn" [ "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'X-Sim-Fault: redirect' "$FILE_URL")" = "302 $SIMURL/_cdn/$ASSET1.png" ]
direct "redirect_other_host followed" [ "$(curl -sL -o "$TMP/r.png" -w '%{http_code}' -H 'X-Sim-Fault: redirect_other_host' "$FILE_URL")" = 200 ]
direct "same bytes after the redirect" cmp -s "$TMP/r.png" <(curl -s "$FILE_URL")

# --- anything Prism flagged in its log for these (all success-path) requests
if grep -E "Violation|✖" "$TMP/prism.log" >"$TMP/violations.txt"; then
    FAILS=$((FAILS + 1))
    echo "FAIL prism logged violations:"; cut -c1-400 "$TMP/violations.txt"
fi

echo "$CHECKS requests through prism, $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
