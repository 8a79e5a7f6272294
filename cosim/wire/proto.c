/* SPDX-License-Identifier: MIT */
/* cosim/wire/proto.c - request names and reply rules (see proto.h) */
#include "config.h"

#include "cosim/wire/proto.h"

static const char *const req_names[VU_REQ_MAX] = {
    [VU_REQ_NONE] = "NONE",
    [VU_REQ_GET_FEATURES] = "GET_FEATURES",
    [VU_REQ_SET_FEATURES] = "SET_FEATURES",
    [VU_REQ_SET_OWNER] = "SET_OWNER",
    [VU_REQ_RESET_OWNER] = "RESET_OWNER",
    [VU_REQ_SET_MEM_TABLE] = "SET_MEM_TABLE",
    [VU_REQ_SET_LOG_BASE] = "SET_LOG_BASE",
    [VU_REQ_SET_LOG_FD] = "SET_LOG_FD",
    [VU_REQ_SET_VRING_NUM] = "SET_VRING_NUM",
    [VU_REQ_SET_VRING_ADDR] = "SET_VRING_ADDR",
    [VU_REQ_SET_VRING_BASE] = "SET_VRING_BASE",
    [VU_REQ_GET_VRING_BASE] = "GET_VRING_BASE",
    [VU_REQ_SET_VRING_KICK] = "SET_VRING_KICK",
    [VU_REQ_SET_VRING_CALL] = "SET_VRING_CALL",
    [VU_REQ_SET_VRING_ERR] = "SET_VRING_ERR",
    [VU_REQ_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
    [VU_REQ_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
    [VU_REQ_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
    [VU_REQ_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
    [VU_REQ_SEND_RARP] = "SEND_RARP",
    [VU_REQ_NET_SET_MTU] = "NET_SET_MTU",
    [VU_REQ_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
    [VU_REQ_IOTLB_MSG] = "IOTLB_MSG",
    [VU_REQ_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
    [VU_REQ_GET_CONFIG] = "GET_CONFIG",
    [VU_REQ_SET_CONFIG] = "SET_CONFIG",
    [VU_REQ_CREATE_CRYPTO_SESSION] = "CREATE_CRYPTO_SESSION",
    [VU_REQ_CLOSE_CRYPTO_SESSION] = "CLOSE_CRYPTO_SESSION",
    [VU_REQ_POSTCOPY_ADVISE] = "POSTCOPY_ADVISE",
    [VU_REQ_POSTCOPY_LISTEN] = "POSTCOPY_LISTEN",
    [VU_REQ_POSTCOPY_END] = "POSTCOPY_END",
    [VU_REQ_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
    [VU_REQ_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
    [VU_REQ_GPU_SET_SOCKET] = "GPU_SET_SOCKET",
    [VU_REQ_RESET_DEVICE] = "RESET_DEVICE",
    [VU_REQ_VRING_KICK] = "VRING_KICK",
    [VU_REQ_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
    [VU_REQ_ADD_MEM_REG] = "ADD_MEM_REG",
    [VU_REQ_REM_MEM_REG] = "REM_MEM_REG",
    [VU_REQ_SET_STATUS] = "SET_STATUS",
    [VU_REQ_GET_STATUS] = "GET_STATUS",
};

static const char *const breq_names[VU_BREQ_MAX] = {
    [VU_BREQ_NONE] = "NONE",
    [VU_BREQ_IOTLB_MSG] = "BACKEND_IOTLB_MSG",
    [VU_BREQ_CONFIG_CHANGE_MSG] = "BACKEND_CONFIG_CHANGE_MSG",
    [VU_BREQ_VRING_HOST_NOTIFIER_MSG] = "BACKEND_VRING_HOST_NOTIFIER_MSG",
    [VU_BREQ_VRING_CALL] = "BACKEND_VRING_CALL",
    [VU_BREQ_VRING_ERR] = "BACKEND_VRING_ERR",
};

/* Names come from a peer's number: anything unknown gets one fixed string,
 * so a log line never indexes past the table. */
const char *vu_req_name(uint32_t req)
{
    if (req < VU_REQ_MAX && req_names[req]) {
        return req_names[req];
    }
    return "UNKNOWN";
}

const char *vu_breq_name(uint32_t req)
{
    if (req < VU_BREQ_MAX && breq_names[req]) {
        return breq_names[req];
    }
    return "UNKNOWN";
}

/* The spec's "reply payload" that is not N/A, outside postcopy and
 * LOG_SHMFD (never offered): the front-end blocks reading it. */
int vu_req_has_reply(uint32_t req)
{
    switch (req) {
    case VU_REQ_GET_FEATURES:
    case VU_REQ_GET_PROTOCOL_FEATURES:
    case VU_REQ_GET_VRING_BASE:
    case VU_REQ_GET_QUEUE_NUM:
    case VU_REQ_GET_CONFIG:
    case VU_REQ_CREATE_CRYPTO_SESSION:
    case VU_REQ_POSTCOPY_ADVISE:
    case VU_REQ_POSTCOPY_END:
    case VU_REQ_GET_INFLIGHT_FD:
    case VU_REQ_GET_MAX_MEM_SLOTS:
    case VU_REQ_GET_STATUS:
        return 1;
    default:
        return 0;
    }
}
