# Fuzz target of seal/ (when built): the EncryptedObject decoder, round trip and point decoding.
if(CLOAKX_HAVE_SEAL)
  cx_add_fuzz(seal_object SOURCES fuzz_seal_object.c LIBS cx_seal)
endif()
