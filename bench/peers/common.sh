# Shared by the bench/peers scripts (sourced, not run).

# ratio A B: A / B to two decimals, "-" when B is 0 or empty.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# both_blas_settings FN: runs `FN LABEL ENV-PREFIX...` twice, with the environment's
# OPENBLAS_CORETYPE (Haswell when it has none), then with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset (OpenBLAS picks its own kernel), so peer and courier always share one.
both_blas_settings() {
  local fn=$1 coretype=${OPENBLAS_CORETYPE:-Haswell}
  "$fn" "OPENBLAS_CORETYPE=$coretype" env OPENBLAS_CORETYPE="$coretype"
  "$fn" "OPENBLAS_CORETYPE unset" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
}
