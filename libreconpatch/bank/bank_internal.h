/* What other modules (the model file) need to know about a bank beyond the public API. */
#ifndef RP_BANK_BANK_INTERNAL_H
#define RP_BANK_BANK_INTERNAL_H

#include <reconpatch/bank.h>

/* 1 when the bank's search ranks candidates with int8 products (rp_bank_params.knn_int8). */
int rp__bank_knn_int8(const rp_bank *bank);

#endif
