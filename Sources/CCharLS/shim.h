// CharLS 2.4 (JPEG-LS, ISO/IEC 14495-1) C API, for PS3.5 A.4.3 (1.2.840.10008.1.2.4.80/81).
#include <charls/charls.h>
