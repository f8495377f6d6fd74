# Sourced by bench/resource-load.sh and bench/resource-profile.sh (not run alone): builds the release binaries, starts
# `bankgate up` in a temporary data directory and nginx as a plain TLS reverse proxy in front of the continental
# bank, and sets: dir, gw, bank, ca, cert, key, secret, bank_token, account (the bank's), gw_token (certificate-bound),
# gw_account, proxy (nginx's URL). Expects `secs` and `conns` set; installs an EXIT trap that stops both.
# BANKGATE_LAUNCHER, when set, is a command put in front of `bankgate up` (bench/resource-instructions.sh: valgrind).
for tool in nginx curl python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install nginx curl)" >&2; exit 2; }
done
cargo build --release --quiet --bin bankgate
cargo build --release --quiet -p gateway --example resource_requests
dir=$(mktemp -d)
pid=""
cleanup() {
  [ -f "$dir/nginx.pid" ] && nginx -p "$dir" -c "$dir/nginx.conf" -s stop 2>/dev/null || true
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$dir"
}
trap cleanup EXIT
${BANKGATE_LAUNCHER:-} ./target/release/bankgate up --ephemeral-ports --frozen-clock --customers 100 --rate-limit 0 \
  --data-dir "$dir" >"$dir/up.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -f "$dir/endpoints.json" ] && break; sleep 0.1; done
[ -f "$dir/endpoints.json" ] || { echo "bankgate did not start" >&2; cat "$dir/up.log" >&2; exit 1; }
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); exec("print("+sys.argv[2]+")")' "$dir/endpoints.json" "$1"; }
gw=$(field 'd["gateway"]["issuer"]')
bank=$(field '[b for b in d["banks"] if b["id"]=="continental"][0]["api"]')
ca=$(field 'd["ca_cert"]')
cert=$(field 'd["client_cert"]')
key=$(field 'd["client_key"]')
secret=$(cat "$dir/gateway/sandbox-app-secret")

# The bank's own token for the nginx path: the sandbox-login grant, as the gateway's client (its certificate).
bank_tokens=$(curl -s --cacert "$ca" --cert "$cert" --key "$key" "$bank/oauth/token" \
  -d grant_type=urn:bankgate:params:oauth:grant-type:sandbox-login -d client_id=gateway-client \
  -d username=user_good -d password=pass_good \
  -d "scope=fdx:accountbasic:read fdx:accountdetailed:read fdx:transactions:read")
bank_token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["access_token"])' "$bank_tokens")
account=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["account_ids"][0])' "$bank_tokens")
# A certificate-bound gateway token: the sandbox shortcut over a connection presenting a client certificate.
gw_tokens=$(curl -s --cacert "$ca" --cert "$cert" --key "$key" -u "sandbox-app:$secret" \
  -H 'content-type: application/json' "$gw/sandbox/consents" \
  -d '{"bank":"continental","username":"user_good","password":"pass_good"}')
gw_token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["access_token"])' "$gw_tokens")
gw_account=$(curl -s --cacert "$ca" --cert "$cert" --key "$key" -H "Authorization: Bearer $gw_token" \
  "$gw/fdx/v6/accounts" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accounts"][0]["accountId"])')

nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server_cert=$(ls "$dir"/certs/continental*.pem | grep -v key | head -1)
server_key=$(ls "$dir"/certs/continental*key*.pem | head -1)
cat >"$dir/nginx.conf" <<CONF
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/nginx-body;
  proxy_temp_path $dir/nginx-proxy;
  upstream bank { server ${bank#https://}; keepalive 128; }
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $server_cert;
    ssl_certificate_key $server_key;
    location / {
      proxy_pass https://bank;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_certificate $cert;
      proxy_ssl_certificate_key $key;
      proxy_ssl_trusted_certificate $ca;
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;
    }
  }
}
CONF
nginx -p "$dir" -c "$dir/nginx.conf"
proxy="https://127.0.0.1:$nginx_port"
check=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -H "Authorization: Bearer $bank_token" "$proxy/fdx/v6/accounts")
[ "$check" = 200 ] || { echo "nginx path answers $check" >&2; cat "$dir/nginx-error.log" >&2; exit 1; }

