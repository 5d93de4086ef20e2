include $(sort $(wildcard $(BR2_EXTERNAL_WANFAILOVER_PATH)/package/*/*.mk))
