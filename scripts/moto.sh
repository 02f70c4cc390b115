# Sourced by the test and bench scripts: starts moto on a free 127.0.0.1 port, exports
# BULKOPS_TEST_ENDPOINT, and stops moto when the calling script exits. Fails loudly if moto
# cannot start: tests never skip for want of the emulator.
moto_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
mkdir -p target
.venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" > target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$moto_port/moto-api/" > /dev/null 2>&1; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "moto server exited at start; see target/moto.log:" >&2; cat target/moto.log >&2; exit 1
  fi
  sleep 0.1
done
if ! curl -fsS "http://127.0.0.1:$moto_port/moto-api/" > /dev/null 2>&1; then
  echo "moto server did not answer on 127.0.0.1:$moto_port within 10 s" >&2; exit 1
fi
export BULKOPS_TEST_ENDPOINT="http://127.0.0.1:$moto_port"
echo "==> moto server on $BULKOPS_TEST_ENDPOINT (pid $moto_pid)"
