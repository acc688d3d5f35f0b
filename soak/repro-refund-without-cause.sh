#!/bin/bash
# Minimal reproduction of the one violation the soak finds (seeds 1-5, SQLite and PostgreSQL):
# a duplicate payment found by the reconciliation sweep (notifications dropped) is refunded
# correctly, but the sweep records RefundRequested with causationId null instead of the
# AnomalyDetected event, so `payguard verify` exits 1: refund-without-cause.
# Usage: npm run build && soak/repro-refund-without-cause.sh
set -u
cd "$(dirname "$0")/.."
D=$(mktemp -d); SP=47101; P=47102; S=http://127.0.0.1:$SP/sandbox; B=http://127.0.0.1:$P
SANDBOX_PORT=$SP SANDBOX_SECRET=s SANDBOX_NOTIFY_DELAY_MS=50 node dist/src/sandbox-main.js > $D/sandbox.log 2>&1 & SPID=$!
PORT=$P DATA_DIR=$D SANDBOX_GATEWAY_URL=$S SANDBOX_SECRET=s PAYMENT_MIN_VALIDITY_SECONDS=1 CHANNEL_EXPIRY_MARGIN_SECONDS=0 \
  RECONCILE_INTERVAL_SECONDS=1 TRADE_WATCH_SECONDS=5 SANDBOX_TIMEOUT_MS=1000 node dist/src/main.js > $D/service.log 2>&1 & PID=$!
until curl -sf $B/health/ready >/dev/null && curl -sf $S/faults >/dev/null; do sleep 0.2; done
J='content-type: application/json'
curl -s -XPUT $S/faults -H "$J" -d '{"dropNotifications":true}' >/dev/null
curl -s -XPOST $B/orders -H "$J" -d '{"orderId":"r1","amount":1000,"currency":"CNY","expiresInSeconds":60}' >/dev/null
A=$(curl -s -XPOST $B/orders/r1/payments -H "$J" -d '{"channel":"sandbox-bank"}' | sed 's/.*"paymentId":"\([^"]*\)".*/\1/')
W=$(curl -s -XPOST $B/orders/r1/payments -H "$J" -d '{"channel":"sandbox-wallet"}' | sed 's/.*"paymentId":"\([^"]*\)".*/\1/')
curl -s -XPOST $S/pay/$A -H 'accept: application/json' -H "$J" -d '{}' >/dev/null
curl -s -XPOST $S/pay/$W -H 'accept: application/json' -H "$J" -d '{}' >/dev/null
sleep 4   # a few sweeps (RECONCILE_INTERVAL_SECONDS=1) find both captures
echo "order: $(curl -s $B/orders/r1 | grep -o '"status":"[a-z]*"' | tr '\n' ' ')"
kill $PID; wait $PID 2>/dev/null
node dist/src/cli.js verify --data-dir $D | head -2
node dist/src/cli.js export --data-dir $D | grep -E '"type":"(AnomalyDetected|RefundRequested)"' | sed -E 's/.*"type":"([A-Za-z]+)".*"causationId":([^,]*).*/\1 causationId=\2/'
kill $SPID; rm -rf $D
