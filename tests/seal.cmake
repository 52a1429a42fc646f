# Tests of seal/ (built only when blst was fetched, CLOAKX_HAVE_SEAL): the spec's known answers
# and intermediates, tamper cases, and the differential test against @mysten/seal.
if(CLOAKX_HAVE_SEAL)
  cx_add_test(test_seal_kat SOURCES test_seal_kat.c LIBS cx_seal OpenSSL::Crypto)
  cx_add_test(test_seal_tamper SOURCES test_seal_tamper.c LIBS cx_seal)
endif()
